package authn

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// jwksFixture is an issuer whose keys come from a JWKS httptest server.
type jwksFixture struct {
	a     *Authenticator
	srv   *jwksServer
	clock *testClock
	obs   *recordingObserver
	keyA  *Signer
}

const testMinRefresh = time.Minute

func newJWKSFixture(t *testing.T, mutate func(*IssuerConfig)) *jwksFixture {
	t.Helper()
	f := &jwksFixture{clock: newTestClock(), obs: newRecordingObserver(), keyA: mustSigner(t, "RS256", "a")}
	f.srv = newJWKSServer(t, jwksDoc(t, f.keyA))
	ic := baseIssuer()
	ic.Algorithms = []string{"RS256", "ES256"}
	ic.JWKSURL = f.srv.URL + "/jwks.json"
	ic.MinRefreshInterval = Duration(testMinRefresh)
	if mutate != nil {
		mutate(&ic)
	}
	f.a = newTestAuthenticator(t, Config{Issuers: []IssuerConfig{ic}},
		WithClock(f.clock.Now), WithObserver(f.obs), WithHTTPClient(f.srv.Client()))
	if n := f.srv.fetches.Load(); n != 1 {
		t.Fatalf("start-up made %d fetches, want 1", n)
	}
	<-f.obs.refreshC // the start-up fetch
	return f
}

func (f *jwksFixture) auth(t *testing.T, token string) error {
	t.Helper()
	_, err := f.a.AuthenticateToken(context.Background(), token)
	return err
}

func TestJWKSRotation(t *testing.T) {
	f := newJWKSFixture(t, nil)
	if err := f.auth(t, mustSign(t, f.keyA, validClaims())); err != nil {
		t.Fatal(err)
	}

	// The IdP rotates: key b appears, key a stays for a while.
	keyB := mustSigner(t, "ES256", "b")
	f.srv.set(http.StatusOK, jwksDoc(t, f.keyA, keyB))
	tokB := mustSign(t, keyB, validClaims())

	// Within min_refresh_interval of the start-up fetch, the unknown kid
	// does not cause a fetch.
	wantCode(t, f.auth(t, tokB), CodeUnknownKey, tokB)
	if n := f.srv.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}

	// Later, one refresh picks the new key up.
	f.clock.Advance(testMinRefresh)
	if err := f.auth(t, tokB); err != nil {
		t.Fatal(err)
	}
	if err := f.auth(t, mustSign(t, keyB, claimsWith(map[string]any{"sub": "u-2"}))); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}

	// Key a is retired: after the next refresh its tokens fail.
	f.srv.set(http.StatusOK, jwksDoc(t, keyB))
	f.clock.Advance(testMinRefresh)
	tokC := mustSign(t, mustSigner(t, "RS256", "c"), validClaims()) // unknown kid: forces a refresh
	wantCode(t, f.auth(t, tokC), CodeUnknownKey, tokC)
	tokA := mustSign(t, f.keyA, validClaims())
	wantCode(t, f.auth(t, tokA), CodeUnknownKey, tokA)
}

func TestJWKSEndpointDown(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"server error", http.StatusInternalServerError, "oops"},
		{"garbage body", http.StatusOK, "<html>not json</html>"},
		{"not a key set", http.StatusOK, `{"foo": 1}`},
		{"empty key set", http.StatusOK, `{"keys": []}`},
		{"only unusable keys", http.StatusOK, `{"keys": [{"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", "kid": "h"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newJWKSFixture(t, nil)
			f.srv.set(tt.status, []byte(tt.body))
			f.clock.Advance(testMinRefresh)

			// An unknown kid triggers a fetch, which fails.
			tok := mustSign(t, mustSigner(t, "RS256", "new"), validClaims())
			wantCode(t, f.auth(t, tok), CodeKeysUnavailable, tok)
			if err := <-f.obs.refreshC; err == nil {
				t.Fatal("observer saw a successful refresh")
			}
			// The cached key keeps working.
			if err := f.auth(t, mustSign(t, f.keyA, validClaims())); err != nil {
				t.Fatalf("cached key stopped working: %v", err)
			}
			// And the failing endpoint is not hammered.
			wantCode(t, f.auth(t, tok), CodeUnknownKey, tok)
			if n := f.srv.fetches.Load(); n != 2 {
				t.Fatalf("fetches = %d, want 2", n)
			}
		})
	}
}

func TestJWKSUnknownKIDFlood(t *testing.T) {
	f := newJWKSFixture(t, nil)
	// The kid is looked up before the signature is checked, so the flood
	// tokens need no real signature.
	tokens := make([]string, 1000)
	for i := range tokens {
		tokens[i] = rawToken(t, map[string]any{"alg": "RS256", "kid": fmt.Sprintf("kid-%d", i)}, validClaims(), []byte("sig"))
	}
	f.clock.Advance(testMinRefresh) // a refresh is allowed now: the flood gets exactly one

	flood := func() {
		var wg sync.WaitGroup
		errs := make(chan error, len(tokens))
		for _, tok := range tokens {
			wg.Go(func() { errs <- f.auth(t, tok) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if c := CodeOf(err); c != CodeUnknownKey {
				t.Fatalf("want unknown_key, got %v", err)
			}
		}
	}
	flood()
	if n := f.srv.fetches.Load(); n != 2 {
		t.Fatalf("1000 unknown kids made %d fetches, want 1 (+1 at start-up)", n-1)
	}
	flood()
	if n := f.srv.fetches.Load(); n != 2 {
		t.Fatalf("a second flood within min_refresh_interval fetched again (%d)", n)
	}
	f.clock.Advance(testMinRefresh)
	flood()
	if n := f.srv.fetches.Load(); n != 3 {
		t.Fatalf("after min_refresh_interval: fetches = %d, want 3", n)
	}
}

func TestJWKSBackgroundRefresh(t *testing.T) {
	keyB := mustSigner(t, "RS256", "b")
	tokB := mustSign(t, keyB, validClaims())
	f := newJWKSFixture(t, func(ic *IssuerConfig) { ic.RefreshInterval = Duration(10 * time.Millisecond) })
	f.srv.set(http.StatusOK, jwksDoc(t, keyB))

	// The clock never moves, so unknown kids cannot cause a fetch: only the
	// background refresh can find key b. Retry after each refresh.
	deadline := time.After(10 * time.Second)
	for f.auth(t, tokB) != nil {
		select {
		case err := <-f.obs.refreshC:
			if err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatal("the background refresh never picked up the new key")
		}
	}
	// Close stops the loop (it would hang here otherwise) and is idempotent.
	f.a.Close()
	f.a.Close()
}

func TestJWKSStartupFailures(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"server error", http.StatusInternalServerError, "oops", "status 500"},
		{"garbage", http.StatusOK, "garbage", "parsing JWK Set"},
		{"no usable key", http.StatusOK, `{"keys": []}`, "no key usable"},
		{"too large", http.StatusOK, `{"keys": [], "pad": "` + strings.Repeat("x", maxJWKSBytes) + `"}`, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJWKSServer(t, []byte(tt.body))
			srv.set(tt.status, []byte(tt.body))
			ic := baseIssuer()
			ic.JWKSURL = srv.URL
			_, err := New(context.Background(), Config{Issuers: []IssuerConfig{ic}}, WithHTTPClient(srv.Client()))
			if err == nil || !strings.Contains(err.Error(), "auth.issuers[0].jwks_url") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error naming the field and %q, got %v", tt.want, err)
			}
		})
	}
}

func TestJWKSSkipsBadKeys(t *testing.T) {
	good := mustSigner(t, "RS256", "good")
	priv := `{"kty":"EC","crv":"P-256","kid":"priv","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cLRK7QT0GbJvDMvVO6apfA"}`
	enc := `{"kty":"RSA","kid":"enc","use":"enc","n":"` + strings.Repeat("A", 342) + `","e":"AQAB"}`
	weird := `{"kty":"XYZ","kid":"weird"}`
	doc := strings.Replace(string(jwksDoc(t, good)), `{"keys":[`, `{"keys":[`+priv+`,`+enc+`,`+weird+`,`, 1)
	srv := newJWKSServer(t, []byte(doc))
	ic := baseIssuer()
	ic.Algorithms = []string{"RS256", "ES256"}
	ic.JWKSURL = srv.URL
	a := newTestAuthenticator(t, Config{Issuers: []IssuerConfig{ic}}, WithClock(func() time.Time { return t0 }), WithHTTPClient(srv.Client()))
	if _, err := a.AuthenticateToken(context.Background(), mustSign(t, good, validClaims())); err != nil {
		t.Fatal(err)
	}
	if got := a.issuers[testIssuer].remote.current().withKID("priv"); len(got) != 0 {
		t.Fatal("a JWK with private key material was accepted")
	}
}

func TestJWKSRequestContextCancelled(t *testing.T) {
	f := newJWKSFixture(t, nil)
	release := f.srv.holdRequests()
	t.Cleanup(release)
	f.clock.Advance(testMinRefresh)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tok := mustSign(t, mustSigner(t, "RS256", "new"), validClaims())
	_, err := f.a.AuthenticateToken(ctx, tok)
	wantCode(t, err, CodeKeysUnavailable, tok)
}
