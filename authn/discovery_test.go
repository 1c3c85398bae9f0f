package authn

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// oidcServer serves an OpenID Connect discovery document and a JWKS.
func oidcServer(t *testing.T, jwks []byte, docIssuer func(self string) string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var jwksFetches atomic.Int64
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                docIssuer(srv.URL),
			"jwks_uri":                              srv.URL + "/keys",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		jwksFetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &jwksFetches
}

func TestOIDCDiscovery(t *testing.T) {
	key := mustSigner(t, "RS256", "k1")
	srv, fetches := oidcServer(t, jwksDoc(t, key), func(self string) string { return self })

	ic := baseIssuer()
	ic.Issuer = srv.URL
	ic.OIDCDiscovery = true
	a := newTestAuthenticator(t, Config{Leeway: Duration(time.Second), Issuers: []IssuerConfig{ic}},
		WithClock(func() time.Time { return t0 }), WithHTTPClient(srv.Client()))

	tests := []struct {
		name   string
		claims map[string]any
		header map[string]any
		want   Code
	}{
		{"valid", map[string]any{"iss": srv.URL}, nil, CodeOK},
		{"wrong audience", map[string]any{"iss": srv.URL, "aud": "other"}, nil, CodeBadAudience},
		{"nbf beyond the configured leeway", map[string]any{"iss": srv.URL, "nbf": t0.Add(10 * time.Second).Unix()}, nil, CodeNotYetValid},
		{"unknown kid", map[string]any{"iss": srv.URL}, map[string]any{"kid": "k2"}, CodeUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := signWith(t, key, claimsWith(tt.claims), tt.header)
			_, err := a.AuthenticateToken(context.Background(), tok)
			wantCode(t, err, tt.want, tok)
		})
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times, want 1", n)
	}
}

func TestOIDCDiscoveryFailures(t *testing.T) {
	key := mustSigner(t, "RS256", "k1")
	tests := []struct {
		name      string
		docIssuer func(self string) string
		want      string
	}{
		{"issuer mismatch", func(string) string { return "https://impostor.example" }, "did not match"},
		{"trailing slash", func(self string) string { return self + "/" }, "did not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := oidcServer(t, jwksDoc(t, key), tt.docIssuer)
			ic := baseIssuer()
			ic.Issuer = srv.URL
			ic.OIDCDiscovery = true
			_, err := New(context.Background(), Config{Issuers: []IssuerConfig{ic}}, WithHTTPClient(srv.Client()))
			if err == nil || !strings.Contains(err.Error(), "auth.issuers[0].oidc_discovery") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error naming oidc_discovery and %q, got %v", tt.want, err)
			}
		})
	}

	t.Run("discovery endpoint missing", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		ic := baseIssuer()
		ic.Issuer = srv.URL
		ic.OIDCDiscovery = true
		if _, err := New(context.Background(), Config{Issuers: []IssuerConfig{ic}}, WithHTTPClient(srv.Client())); err == nil {
			t.Fatal("want error")
		}
	})

	t.Run("jwks_uri over plain http to a remote host", func(t *testing.T) {
		mux := http.NewServeMux()
		var srv *httptest.Server
		mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": srv.URL, "jwks_uri": "http://keys.example/jwks"})
		})
		srv = httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		ic := baseIssuer()
		ic.Issuer = srv.URL
		ic.OIDCDiscovery = true
		_, err := New(context.Background(), Config{Issuers: []IssuerConfig{ic}}, WithHTTPClient(srv.Client()))
		if err == nil || !strings.Contains(err.Error(), "plain http") {
			t.Fatalf("want plain http error, got %v", err)
		}
	})
}
