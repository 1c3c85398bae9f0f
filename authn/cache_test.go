package authn

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"
)

// cacheFixture is an issuer with a static RSA key and the cache enabled.
type cacheFixture struct {
	a     *Authenticator
	s     *Signer
	clock *testClock
	obs   *recordingObserver
}

func newCacheFixture(t *testing.T, cache CacheConfig, leeway time.Duration) *cacheFixture {
	t.Helper()
	f := &cacheFixture{s: mustSigner(t, "RS256", "k"), clock: newTestClock(), obs: newRecordingObserver()}
	ic := baseIssuer()
	ic.KeyFiles = []KeyFile{{Path: pemFile(t, f.s), KID: "k"}}
	f.a = newTestAuthenticator(t, Config{Leeway: Duration(leeway), Cache: cache, Issuers: []IssuerConfig{ic}},
		WithClock(f.clock.Now), WithObserver(f.obs))
	return f
}

// check authenticates token and verifies the outcome and whether the cache
// answered.
func (f *cacheFixture) check(t *testing.T, token string, want Code, wantCached bool) {
	t.Helper()
	_, err := f.a.AuthenticateToken(context.Background(), token)
	wantCode(t, err, want, token)
	if got := f.obs.last(); got.cached != wantCached || got.code != want {
		t.Fatalf("observed %+v, want code %s cached %v", got, want, wantCached)
	}
}

func TestCacheHitAndExpiry(t *testing.T) {
	f := newCacheFixture(t, CacheConfig{MaxEntries: 100}, 0)
	tok := mustSign(t, f.s, claimsWith(map[string]any{"exp": t0.Add(time.Minute).Unix()}))

	f.check(t, tok, CodeOK, false)
	f.check(t, tok, CodeOK, true)
	p1, _ := f.a.AuthenticateToken(context.Background(), tok)
	p2, _ := f.a.AuthenticateToken(context.Background(), tok)
	if p1 != p2 {
		t.Fatal("cache hit returned a different principal")
	}

	f.clock.Advance(59 * time.Second)
	f.check(t, tok, CodeOK, true)
	// At exp the entry is gone, and the token is verified (and refused) again.
	f.clock.Advance(time.Second)
	f.check(t, tok, CodeExpired, false)
	f.check(t, tok, CodeExpired, false)
}

func TestCacheNeverOutlivesExpWithLeeway(t *testing.T) {
	f := newCacheFixture(t, CacheConfig{MaxEntries: 100}, 30*time.Second)
	tok := mustSign(t, f.s, claimsWith(map[string]any{"exp": t0.Add(time.Minute).Unix()}))
	f.check(t, tok, CodeOK, false)
	f.clock.Advance(70 * time.Second) // past exp, within leeway: accepted, not from the cache
	f.check(t, tok, CodeOK, false)
	f.check(t, tok, CodeOK, false) // and not cached either
	f.clock.Advance(30 * time.Second)
	f.check(t, tok, CodeExpired, false)
}

func TestCacheTTL(t *testing.T) {
	f := newCacheFixture(t, CacheConfig{MaxEntries: 100, TTL: Duration(10 * time.Second)}, 0)
	tok := mustSign(t, f.s, validClaims())
	f.check(t, tok, CodeOK, false)
	f.check(t, tok, CodeOK, true)
	f.clock.Advance(10 * time.Second)
	f.check(t, tok, CodeOK, false)
	f.check(t, tok, CodeOK, true)
}

func TestCacheDisabled(t *testing.T) {
	f := newCacheFixture(t, CacheConfig{}, 0)
	tok := mustSign(t, f.s, validClaims())
	f.check(t, tok, CodeOK, false)
	f.check(t, tok, CodeOK, false)
}

func TestCacheFailuresAreNotCached(t *testing.T) {
	f := newCacheFixture(t, CacheConfig{MaxEntries: 100}, 0)
	tok := mustSign(t, f.s, claimsWith(map[string]any{"aud": "other"}))
	f.check(t, tok, CodeBadAudience, false)
	f.check(t, tok, CodeBadAudience, false)
	if n := f.a.cache.len(); n != 0 {
		t.Fatalf("cache has %d entries", n)
	}
}

func TestCacheBound(t *testing.T) {
	tests := []struct {
		name       string
		maxEntries int
		tokens     int
	}{
		{"single shard", 4, 20},
		{"sharded", 2048, 3000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTokenCache(tt.maxEntries, 0)
			p := &Principal{ExpiresAt: t0.Add(time.Hour)}
			for i := range tt.tokens {
				c.put(sha256.Sum256(fmt.Appendf(nil, "token-%d", i)), p, t0)
			}
			if n := c.len(); n > tt.maxEntries || n < tt.maxEntries*9/10 {
				t.Fatalf("%d entries for a bound of %d", n, tt.maxEntries)
			}
		})
	}
}

func TestCacheEvictsExpiredFirst(t *testing.T) {
	c := newTokenCache(4, 0)
	live := &Principal{ExpiresAt: t0.Add(time.Hour)}
	short := &Principal{ExpiresAt: t0.Add(time.Second)}
	keys := make([]cacheKey, 5)
	for i := range keys {
		keys[i] = sha256.Sum256(fmt.Appendf(nil, "token-%d", i))
	}
	c.put(keys[0], short, t0)
	for _, k := range keys[1:4] {
		c.put(k, live, t0)
	}
	// Full; at t0+2s keys[0] has expired and must be the one evicted.
	now := t0.Add(2 * time.Second)
	c.put(keys[4], live, now)
	for _, k := range keys[1:] {
		if _, ok := c.get(k, now); !ok {
			t.Fatal("a live entry was evicted while an expired one was present")
		}
	}
	if c.len() != 4 {
		t.Fatalf("len %d", c.len())
	}
}
