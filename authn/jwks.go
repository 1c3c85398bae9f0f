package authn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

const (
	// maxJWKSBytes bounds a JWKS response: real ones are a few KiB.
	maxJWKSBytes = 1 << 20
	// fetchTimeout bounds one JWKS fetch, whoever waits for it.
	fetchTimeout = 10 * time.Second
)

// errThrottled is returned by remoteKeys.refresh when the last fetch was less
// than min_refresh_interval ago. It is a comparable value type so that
// errors.Is works without a package-level sentinel variable.
type errThrottled struct{}

func (errThrottled) Error() string { return "JWKS refresh throttled by min_refresh_interval" }

// remoteKeys is the cached key set of a JWKS URL.
//
// Keys are read lock-free on every verification. A fetch happens at start-up,
// periodically when refresh_interval is set, and when a token names a kid we
// do not know (a key rotation), but then at most once per
// min_refresh_interval: a flood of tokens with made-up kids costs the identity
// provider one request per interval, and concurrent callers share that one
// request (singleflight). A failed fetch keeps the previous keys.
type remoteKeys struct {
	issuer      string
	url         string
	client      *http.Client
	algs        []algSpec
	minInterval time.Duration
	now         func() time.Time
	obs         Observer
	log         *slog.Logger
	// base carries no deadline and is cancelled by Authenticator.Close: a
	// fetch shared by many requests must not die with the first of them.
	base context.Context

	keys  atomic.Pointer[keyIndex]
	group singleflight.Group

	mu        sync.Mutex
	lastFetch time.Time // start of the last fetch, by r.now; guarded by mu
}

// current returns the cached keys (nil before the first successful fetch).
func (r *remoteKeys) current() *keyIndex { return r.keys.Load() }

// refresh fetches the key set unless the previous fetch started less than
// minInterval ago (errThrottled); force skips that check, for the periodic
// refresh whose schedule is its own rate limit. Concurrent calls share one
// fetch. The caller stops waiting when ctx ends, but the fetch goes on for
// the others.
func (r *remoteKeys) refresh(ctx context.Context, force bool) error {
	ch := r.group.DoChan("jwks", func() (any, error) {
		r.mu.Lock()
		now := r.now()
		if !force && !r.lastFetch.IsZero() && now.Sub(r.lastFetch) < r.minInterval {
			r.mu.Unlock()
			return nil, errThrottled{}
		}
		r.lastFetch = now
		r.mu.Unlock()

		fctx, cancel := context.WithTimeout(r.base, fetchTimeout)
		defer cancel()
		ix, err := r.fetch(fctx)
		if err != nil {
			r.log.Warn("JWKS refresh failed, keeping the cached keys",
				"issuer", r.issuer, "url", r.url, "cached_keys", r.current().len(), "error", err)
			r.obs.ObserveJWKSRefresh(r.issuer, err)
			return nil, err
		}
		r.keys.Store(ix)
		r.log.Debug("JWKS refreshed", "issuer", r.issuer, "url", r.url, "keys", ix.len())
		// Observed after the new keys are in place, so an observer can tell
		// when they are usable.
		r.obs.ObserveJWKSRefresh(r.issuer, nil)
		return nil, nil
	})
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return fmt.Errorf("waiting for JWKS refresh: %w", ctx.Err())
	}
}

// fetch downloads and parses the key set. A set with no usable key is an
// error, so that a broken endpoint cannot wipe out keys that still work.
func (r *remoteKeys) fetch(ctx context.Context) (*keyIndex, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, fmt.Errorf("building JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching JWKS %s: status %s", r.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading JWKS %s: %w", r.url, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("JWKS %s is larger than %d bytes", r.url, maxJWKSBytes)
	}
	keys, problems, err := parseJWKSet(body)
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", r.url, err)
	}
	if len(problems) > 0 {
		r.log.Warn("JWKS keys skipped", "issuer", r.issuer, "url", r.url, "error", errors.Join(problems...))
	}
	usable := keys[:0]
	for _, k := range keys {
		if fitsAny(k, r.algs) {
			usable = append(usable, k)
		} else {
			r.log.Debug("JWKS key fits none of the issuer's algorithms, skipped",
				"issuer", r.issuer, "kid", k.kid, "key", describeKey(k.key))
		}
	}
	if len(usable) == 0 {
		return nil, fmt.Errorf("JWKS %s has no key usable with the configured algorithms (%d keys)", r.url, len(keys))
	}
	return newKeyIndex(usable), nil
}

// run refreshes the keys every interval until ctx ends.
func (r *remoteKeys) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// Failures are logged and observed in refresh; cached keys stay.
			_ = r.refresh(ctx, true)
		}
	}
}

// defaultHTTPClient is used for JWKS and discovery fetches unless
// WithHTTPClient is given. It times out, and refuses redirects to URLs that
// would not be accepted in the configuration (https, or loopback http).
func defaultHTTPClient() *http.Client {
	return &http.Client{
		Timeout: fetchTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			return checkFetchURL(req.URL.String())
		},
	}
}
