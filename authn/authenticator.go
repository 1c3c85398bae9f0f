package authn

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Authenticator verifies tokens against the configured issuers. It is safe
// for concurrent use. Call Close when done with it to stop background JWKS
// refreshes.
type Authenticator struct {
	issuers       map[string]*issuerVerifier
	maxTokenBytes int
	cache         *tokenCache // nil when disabled
	now           func() time.Time
	obs           Observer

	stop      context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New validates cfg, loads every issuer's keys (key files, HMAC secret, OIDC
// discovery, first JWKS fetch) and starts the periodic JWKS refreshes. It
// fails, naming the configuration field, if anything is wrong: a start-up
// error beats an authenticator that rejects every token. ctx bounds the
// start-up fetches only.
func New(ctx context.Context, cfg Config, opts ...Option) (*Authenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid authentication configuration: %w", err)
	}
	cfg = cfg.withDefaults()

	s := &settings{now: time.Now, obs: nopObserver{}, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(s)
	}
	if s.client == nil {
		s.client = defaultHTTPClient()
	}

	// Background work keeps ctx's values but not its cancellation: ctx may
	// be a start-up timeout.
	base, stop := context.WithCancel(context.WithoutCancel(ctx))
	a := &Authenticator{
		issuers:       make(map[string]*issuerVerifier, len(cfg.Issuers)),
		maxTokenBytes: cfg.MaxTokenBytes,
		cache:         newTokenCache(cfg.Cache.MaxEntries, cfg.Cache.TTL.Std()),
		now:           s.now,
		obs:           s.obs,
		stop:          stop,
	}
	for i, ic := range cfg.Issuers {
		v, err := newIssuerVerifier(ctx, base, i, ic, cfg.Leeway.Std(), s)
		if err != nil {
			stop()
			return nil, err
		}
		a.issuers[ic.Issuer] = v
	}
	// Started only once everything loaded, so a failed New leaks nothing.
	for _, ic := range cfg.Issuers {
		v := a.issuers[ic.Issuer]
		if v.remote != nil && ic.RefreshInterval > 0 {
			a.wg.Go(func() { v.remote.run(base, ic.RefreshInterval.Std()) })
		}
	}
	return a, nil
}

// Close stops the background JWKS refreshes and waits for them. It is safe
// to call more than once.
func (a *Authenticator) Close() {
	a.closeOnce.Do(func() {
		a.stop()
		a.wg.Wait()
	})
}

// Authenticate verifies the token of r (see [TokenFromRequest]) and returns
// who is calling. On failure the error is an [*Error]; its Code says why. The
// returned Principal may be shared with other callers and must not be
// modified.
func (a *Authenticator) Authenticate(ctx context.Context, r *http.Request) (*Principal, error) {
	start := time.Now()
	token, err := TokenFromRequest(r)
	if err != nil {
		a.obs.ObserveAuth("", CodeOf(err), false, time.Since(start))
		return nil, err
	}
	return a.authenticate(ctx, token, start)
}

// AuthenticateToken is Authenticate for a token obtained otherwise.
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (*Principal, error) {
	return a.authenticate(ctx, token, time.Now())
}

func (a *Authenticator) authenticate(ctx context.Context, token string, start time.Time) (*Principal, error) {
	p, issuer, cached, aerr := a.verify(ctx, token)
	if aerr != nil {
		a.obs.ObserveAuth(issuer, aerr.Code, cached, time.Since(start))
		return nil, aerr // never a typed nil: aerr is non-nil here
	}
	a.obs.ObserveAuth(issuer, CodeOK, cached, time.Since(start))
	return p, nil
}

// verify runs the pipeline described in the package documentation. issuer is
// the configured issuer when one was identified, for the Observer.
func (a *Authenticator) verify(ctx context.Context, token string) (p *Principal, issuer string, cached bool, aerr *Error) {
	if aerr := checkSize(token, a.maxTokenBytes); aerr != nil {
		return nil, "", false, aerr
	}
	var key cacheKey
	if a.cache != nil {
		key = sha256.Sum256([]byte(token))
		if p, ok := a.cache.get(key, a.now()); ok {
			return p, p.Issuer, true, nil
		}
	}
	if aerr := checkShape(token); aerr != nil {
		return nil, "", false, aerr
	}
	hdr, iss, aerr := peek(token)
	if aerr != nil {
		return nil, "", false, aerr
	}
	v, ok := a.issuers[iss]
	if !ok {
		return nil, "", false, newError(CodeBadIssuer, nil, "issuer %s is not trusted", quote(iss))
	}
	p, aerr = v.verify(ctx, token, hdr)
	if aerr != nil {
		return nil, v.issuer, false, aerr
	}
	if a.cache != nil {
		a.cache.put(key, p, a.now())
	}
	return p, v.issuer, false, nil
}
