package authn

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// benchAuthenticator returns an Authenticator trusting s, and a request
// carrying a valid token of s.
func benchAuthenticator(b *testing.B, kind string, cache CacheConfig) (*Authenticator, *http.Request) {
	b.Helper()
	s := mustSigner(b, kind, "k")
	ic := baseIssuer()
	ic.Algorithms = []string{kind}
	ic.KeyFiles = []KeyFile{{Path: pemFile(b, s), KID: "k"}}
	a := newTestAuthenticator(b, Config{Leeway: Duration(30 * time.Second), Cache: cache, Issuers: []IssuerConfig{ic}},
		WithClock(func() time.Time { return t0 }))
	r := httptest.NewRequest("GET", "/v2/images", nil)
	r.Header.Set("X-Auth-Token", mustSign(b, s, validClaims()))
	return a, r
}

func benchmarkAuthenticate(b *testing.B, kind string, cache CacheConfig) {
	a, r := benchAuthenticator(b, kind, cache)
	ctx := context.Background()
	if _, err := a.Authenticate(ctx, r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyRS256 is a full verification (cache disabled).
func BenchmarkVerifyRS256(b *testing.B) { benchmarkAuthenticate(b, "RS256", CacheConfig{}) }

// BenchmarkVerifyES256 is a full verification (cache disabled).
func BenchmarkVerifyES256(b *testing.B) { benchmarkAuthenticate(b, "ES256", CacheConfig{}) }

// BenchmarkVerifyEdDSA is a full verification (cache disabled).
func BenchmarkVerifyEdDSA(b *testing.B) { benchmarkAuthenticate(b, "EdDSA", CacheConfig{}) }

// BenchmarkVerifyCached is a repeated RS256 token answered by the cache.
func BenchmarkVerifyCached(b *testing.B) {
	benchmarkAuthenticate(b, "RS256", CacheConfig{MaxEntries: 10000})
}

// BenchmarkVerifyCachedParallel is BenchmarkVerifyCached from all CPUs.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	a, r := benchAuthenticator(b, "RS256", CacheConfig{MaxEntries: 10000})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.Authenticate(ctx, r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
