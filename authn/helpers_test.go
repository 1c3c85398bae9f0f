package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

const (
	testIssuer   = "https://idp.example"
	testAudience = "imagegate"
)

// testClock is an injectable clock that only moves when told to.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: t0} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newSigner wraps a generated key in a Signer for the given alg.
func mustSigner(t testing.TB, kind, kid string) *Signer {
	t.Helper()
	var (
		s   *Signer
		err error
	)
	switch kind {
	case "RS256":
		s, err = NewRSASigner(kid)
	case "ES256":
		s, err = NewECDSASigner(kid)
	case "EdDSA":
		s, err = NewEd25519Signer(kid)
	case "ES384":
		var key *ecdsa.PrivateKey
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		s = &Signer{kid: kid, method: jwt.SigningMethodES384, key: key}
	case "PS256":
		var key *rsa.PrivateKey
		key, err = rsa.GenerateKey(rand.Reader, 2048)
		s = &Signer{kid: kid, method: jwt.SigningMethodPS256, key: key}
	default:
		t.Fatalf("unknown signer kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// validClaims are claims that pass every check at t0.
func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":        testIssuer,
		"aud":        testAudience,
		"sub":        "u-1",
		"project_id": "p-1",
		"roles":      []any{"reader", "images:creator"},
		"iat":        t0.Add(-time.Minute).Unix(),
		"nbf":        t0.Add(-time.Minute).Unix(),
		"exp":        t0.Add(time.Hour).Unix(),
	}
}

// claimsWith returns validClaims with changes; a nil value deletes the claim.
func claimsWith(changes map[string]any) jwt.MapClaims {
	c := validClaims()
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// signWith signs claims with s, setting extra header fields (a nil value
// deletes a header field, e.g. "kid").
func signWith(t testing.TB, s *Signer, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(s.method, claims)
	if s.kid != "" {
		tok.Header["kid"] = s.kid
	}
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	out, err := tok.SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustSign(t testing.TB, s *Signer, claims jwt.MapClaims) string {
	t.Helper()
	return signWith(t, s, claims, nil)
}

// publicJWK returns the public JWK (as a JSON object) of s, with kid.
func publicJWK(t testing.TB, s *Signer, kid string) map[string]any {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: s.key.Public(), KeyID: kid, Algorithm: s.method.Alg(), Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// jwksDoc builds a JWK Set JSON document of the signers' public keys.
func jwksDoc(t testing.TB, signers ...*Signer) []byte {
	t.Helper()
	set := jose.JSONWebKeySet{}
	for _, s := range signers {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: s.key.Public(), KeyID: s.kid, Algorithm: s.method.Alg(), Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFile writes data to a file in a test directory and returns its path.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pemFile(t testing.TB, s *Signer) string {
	t.Helper()
	b, err := s.PublicKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "key.pem", b)
}

// baseIssuer is a valid issuer config without key source.
func baseIssuer() IssuerConfig {
	return IssuerConfig{
		Issuer:     testIssuer,
		Audience:   []string{testAudience},
		Algorithms: []string{"RS256"},
	}
}

func newTestAuthenticator(t testing.TB, cfg Config, opts ...Option) *Authenticator {
	t.Helper()
	a, err := New(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(a.Close)
	return a
}

// jwksServer is an httptest JWKS endpoint whose answer can be changed, and
// which counts the fetches it serves.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int64

	mu     sync.Mutex
	body   []byte
	status int
	hold   chan struct{} // when set, requests wait for it to close
}

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	t.Helper()
	js := &jwksServer{body: body, status: http.StatusOK}
	js.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		js.fetches.Add(1)
		js.mu.Lock()
		body, status, hold := js.body, js.status, js.hold
		js.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(js.Close)
	return js
}

// holdRequests makes requests wait until the returned function is called.
func (js *jwksServer) holdRequests() (release func()) {
	ch := make(chan struct{})
	js.mu.Lock()
	js.hold = ch
	js.mu.Unlock()
	return sync.OnceFunc(func() { close(ch) })
}

func (js *jwksServer) set(status int, body []byte) {
	js.mu.Lock()
	defer js.mu.Unlock()
	js.status, js.body = status, body
}

// hitCounter is an httptest server that must never be contacted.
func hitCounter(t testing.TB) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "no", http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// recordingObserver records outcomes and signals JWKS refreshes.
type recordingObserver struct {
	mu       sync.Mutex
	auths    []observedAuth
	refresh  []error
	refreshC chan error
}

type observedAuth struct {
	issuer string
	code   Code
	cached bool
}

func newRecordingObserver() *recordingObserver {
	return &recordingObserver{refreshC: make(chan error, 1024)}
}

func (o *recordingObserver) ObserveAuth(issuer string, code Code, cached bool, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.auths = append(o.auths, observedAuth{issuer, code, cached})
}

func (o *recordingObserver) ObserveJWKSRefresh(_ string, err error) {
	o.mu.Lock()
	o.refresh = append(o.refresh, err)
	o.mu.Unlock()
	o.refreshC <- err
}

func (o *recordingObserver) last() observedAuth {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.auths) == 0 {
		return observedAuth{}
	}
	return o.auths[len(o.auths)-1]
}

// wantCode checks that err is an *Error with the code, and that it does not
// leak the token.
func wantCode(t testing.TB, err error, want Code, token string) {
	t.Helper()
	if want == CodeOK {
		if err != nil {
			t.Fatalf("want success, got %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("want %s, got success", want)
	}
	if got := CodeOf(err); got != want {
		t.Fatalf("want code %s, got %s (%v)", want, got, err)
	}
	if token != "" {
		msg := err.Error()
		for _, part := range strings.Split(token, ".") {
			if len(part) >= 8 && strings.Contains(msg, part) {
				t.Fatalf("error message leaks the token: %q", msg)
			}
		}
	}
}
