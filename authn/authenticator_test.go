package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// threatFixture is an issuer trusting an RSA key "rsa1" (PEM file) and an
// EC P-256 key "ec1" (JWK file), for RS256 and ES256.
type threatFixture struct {
	a        *Authenticator
	rsa, ec  *Signer
	attacker *Signer // RSA key nobody trusts
	evil     *httptest.Server
	evilHits func() int64
}

func newThreatFixture(t *testing.T) *threatFixture {
	t.Helper()
	f := &threatFixture{
		rsa:      mustSigner(t, "RS256", "rsa1"),
		ec:       mustSigner(t, "ES256", "ec1"),
		attacker: mustSigner(t, "RS256", "attacker"),
	}
	evil, hits := hitCounter(t)
	f.evil, f.evilHits = evil, hits.Load

	ecJWK := writeFile(t, "ec.jwk.json", jwksDoc(t, f.ec))
	ic := baseIssuer()
	ic.Algorithms = []string{"RS256", "ES256"}
	ic.KeyFiles = []KeyFile{{Path: pemFile(t, f.rsa), KID: "rsa1"}, {Path: ecJWK}}
	ic.Claims.Reseller = "reseller_id"
	cfg := Config{Leeway: Duration(30 * time.Second), Issuers: []IssuerConfig{ic}}
	f.a = newTestAuthenticator(t, cfg, WithClock(func() time.Time { return t0 }))
	return f
}

// rawToken assembles a token from a header and claims without any library,
// for tokens no library would sign.
func rawToken(t *testing.T, header map[string]any, claims jwt.MapClaims, sig []byte) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims)
	tok.Header = header
	ss, err := tok.SigningString()
	if err != nil {
		t.Fatal(err)
	}
	return ss + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestAuthenticateThreats(t *testing.T) {
	f := newThreatFixture(t)
	rsaPEM, err := f.rsa.PublicKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	valid := mustSign(t, f.rsa, validClaims())
	parts := strings.Split(valid, ".")

	// A self-signed certificate of the attacker's key, for x5c.
	certDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evil"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour),
	}, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evil"}},
		f.attacker.key.Public(), f.attacker.key)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		token func(t *testing.T) string
		want  Code
	}{
		{"valid RS256", func(t *testing.T) string { return valid }, CodeOK},
		{"valid ES256", func(t *testing.T) string { return mustSign(t, f.ec, validClaims()) }, CodeOK},
		{"alg none, empty signature", func(t *testing.T) string {
			return rawToken(t, map[string]any{"alg": "none", "typ": "JWT"}, validClaims(), nil)
		}, CodeBadAlgorithm},
		{"alg none with kid and a signature", func(t *testing.T) string {
			return rawToken(t, map[string]any{"alg": "none", "kid": "rsa1"}, validClaims(), []byte("x"))
		}, CodeBadAlgorithm},
		{"alg None (case games)", func(t *testing.T) string {
			return rawToken(t, map[string]any{"alg": "None", "kid": "rsa1"}, validClaims(), []byte("x"))
		}, CodeBadAlgorithm},
		{"HS256 signed with the RSA public key PEM as secret", func(t *testing.T) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims())
			tok.Header["kid"] = "rsa1"
			s, err := tok.SignedString(rsaPEM)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, CodeBadAlgorithm},
		{"algorithm not pinned (PS256)", func(t *testing.T) string {
			ps := mustSigner(t, "PS256", "rsa1")
			return mustSign(t, ps, validClaims())
		}, CodeBadAlgorithm},
		{"RS256 token naming the EC key", func(t *testing.T) string {
			return signWith(t, f.rsa, validClaims(), map[string]any{"kid": "ec1"})
		}, CodeBadAlgorithm},
		{"ES256 token naming the RSA key", func(t *testing.T) string {
			return signWith(t, f.ec, validClaims(), map[string]any{"kid": "rsa1"})
		}, CodeBadAlgorithm},
		{"embedded jwk header with own kid", func(t *testing.T) string {
			return signWith(t, f.attacker, validClaims(), map[string]any{"jwk": publicJWK(t, f.attacker, "attacker")})
		}, CodeUnknownKey},
		{"embedded jwk header reusing a trusted kid", func(t *testing.T) string {
			return signWith(t, f.attacker, validClaims(), map[string]any{"kid": "rsa1", "jwk": publicJWK(t, f.attacker, "rsa1")})
		}, CodeBadSignature},
		{"jku header pointing at attacker JWKS", func(t *testing.T) string {
			return signWith(t, f.attacker, validClaims(), map[string]any{"jku": f.evil.URL + "/jwks.json"})
		}, CodeUnknownKey},
		{"x5u header", func(t *testing.T) string {
			return signWith(t, f.attacker, validClaims(), map[string]any{"kid": "rsa1", "x5u": f.evil.URL + "/cert.pem"})
		}, CodeBadSignature},
		{"x5c header with attacker certificate", func(t *testing.T) string {
			return signWith(t, f.attacker, validClaims(), map[string]any{
				"kid": nil, "x5c": []string{base64.StdEncoding.EncodeToString(certDER)},
			})
		}, CodeBadSignature},
		{"unknown kid", func(t *testing.T) string {
			return signWith(t, f.rsa, validClaims(), map[string]any{"kid": "nope"})
		}, CodeUnknownKey},
		{"kid with path traversal", func(t *testing.T) string {
			return signWith(t, f.rsa, validClaims(), map[string]any{"kid": "../../../../etc/passwd"})
		}, CodeUnknownKey},
		{"kid with URL", func(t *testing.T) string {
			return signWith(t, f.rsa, validClaims(), map[string]any{"kid": f.evil.URL + "/key"})
		}, CodeUnknownKey},
		{"kid of wrong JSON type", func(t *testing.T) string {
			return signWith(t, f.rsa, validClaims(), map[string]any{"kid": 42})
		}, CodeMalformed},
		{"blank signature", func(t *testing.T) string { return parts[0] + "." + parts[1] + "." }, CodeBadSignature},
		{"signature of another token", func(t *testing.T) string {
			other := strings.Split(mustSign(t, f.rsa, claimsWith(map[string]any{"sub": "admin"})), ".")
			return other[0] + "." + other[1] + "." + parts[2]
		}, CodeBadSignature},
		{"signature by untrusted key under trusted kid", func(t *testing.T) string {
			return signWith(t, f.attacker, validClaims(), map[string]any{"kid": "rsa1"})
		}, CodeBadSignature},
		{"expired beyond leeway", func(t *testing.T) string {
			return mustSign(t, f.rsa, claimsWith(map[string]any{"exp": t0.Add(-31 * time.Second).Unix()}))
		}, CodeExpired},
		{"expired within leeway", func(t *testing.T) string {
			return mustSign(t, f.rsa, claimsWith(map[string]any{"exp": t0.Add(-10 * time.Second).Unix()}))
		}, CodeOK},
		{"nbf beyond leeway", func(t *testing.T) string {
			return mustSign(t, f.rsa, claimsWith(map[string]any{"nbf": t0.Add(time.Minute).Unix()}))
		}, CodeNotYetValid},
		{"nbf within leeway", func(t *testing.T) string {
			return mustSign(t, f.rsa, claimsWith(map[string]any{"nbf": t0.Add(20 * time.Second).Unix()}))
		}, CodeOK},
		{"iat in the future beyond leeway", func(t *testing.T) string {
			return mustSign(t, f.rsa, claimsWith(map[string]any{"iat": t0.Add(time.Minute).Unix()}))
		}, CodeNotYetValid},
		{"missing exp", func(t *testing.T) string {
			return mustSign(t, f.rsa, claimsWith(map[string]any{"exp": nil}))
		}, CodeMissingClaim},
		{"exp of wrong type", func(t *testing.T) string {
			return mustSign(t, f.rsa, claimsWith(map[string]any{"exp": "tomorrow"}))
		}, CodeMalformed},
		{"wrong issuer", func(t *testing.T) string {
			return mustSign(t, f.rsa, claimsWith(map[string]any{"iss": "https://evil.example"}))
		}, CodeBadIssuer},
		{"issuer with trailing slash", func(t *testing.T) string {
			return mustSign(t, f.rsa, claimsWith(map[string]any{"iss": testIssuer + "/"}))
		}, CodeBadIssuer},
		{"missing issuer", func(t *testing.T) string {
			return mustSign(t, f.rsa, claimsWith(map[string]any{"iss": nil}))
		}, CodeBadIssuer},
		{"wrong audience", func(t *testing.T) string {
			return mustSign(t, f.rsa, claimsWith(map[string]any{"aud": "other-service"}))
		}, CodeBadAudience},
		{"missing audience", func(t *testing.T) string {
			return mustSign(t, f.rsa, claimsWith(map[string]any{"aud": nil}))
		}, CodeBadAudience},
		{"audience array containing ours", func(t *testing.T) string {
			return mustSign(t, f.rsa, claimsWith(map[string]any{"aud": []any{"x", testAudience}}))
		}, CodeOK},
		{"missing tenant claim", func(t *testing.T) string {
			return mustSign(t, f.rsa, claimsWith(map[string]any{"project_id": nil}))
		}, CodeMissingClaim},
		{"empty tenant claim", func(t *testing.T) string {
			return mustSign(t, f.rsa, claimsWith(map[string]any{"project_id": ""}))
		}, CodeMissingClaim},
		{"missing user claim", func(t *testing.T) string {
			return mustSign(t, f.rsa, claimsWith(map[string]any{"sub": nil}))
		}, CodeMissingClaim},
		{"roles of wrong type", func(t *testing.T) string {
			return mustSign(t, f.rsa, claimsWith(map[string]any{"roles": map[string]any{"a": 1}}))
		}, CodeInvalidClaim},
		{"oversized token", func(t *testing.T) string {
			return mustSign(t, f.rsa, claimsWith(map[string]any{"pad": strings.Repeat("x", DefaultMaxTokenBytes)}))
		}, CodeTooLarge},
		{"many dots", func(t *testing.T) string { return strings.Repeat("a.", 1000) + "a" }, CodeMalformed},
		{"two parts", func(t *testing.T) string { return parts[0] + "." + parts[1] }, CodeMalformed},
		{"non-base64url characters", func(t *testing.T) string { return parts[0] + "." + parts[1] + "+/." + parts[2] }, CodeMalformed},
		{"header not JSON", func(t *testing.T) string {
			return base64.RawURLEncoding.EncodeToString([]byte("not json")) + "." + parts[1] + "." + parts[2]
		}, CodeMalformed},
		{"payload not JSON", func(t *testing.T) string {
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1,2]")) + "." + parts[2]
		}, CodeMalformed},
		{"critical header extension", func(t *testing.T) string {
			return signWith(t, f.rsa, validClaims(), map[string]any{"crit": []string{"exp"}, "exp": 1})
		}, CodeMalformed},
		{"no kid, one fitting key", func(t *testing.T) string {
			return signWith(t, f.rsa, validClaims(), map[string]any{"kid": nil})
		}, CodeOK},
		{"no kid, ES256", func(t *testing.T) string {
			return signWith(t, f.ec, validClaims(), map[string]any{"kid": nil})
		}, CodeOK},
		{"no kid, untrusted key", func(t *testing.T) string {
			return signWith(t, f.attacker, validClaims(), map[string]any{"kid": nil})
		}, CodeBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tt.token(t)
			p, err := f.a.AuthenticateToken(context.Background(), token)
			wantCode(t, err, tt.want, token)
			if tt.want == CodeOK && (p == nil || p.User == "" || p.Tenant != "p-1") {
				t.Fatalf("bad principal %+v", p)
			}
		})
	}
	if n := f.evilHits(); n != 0 {
		t.Fatalf("a URL from a token was contacted %d times", n)
	}
}

func TestAuthenticatePrincipal(t *testing.T) {
	f := newThreatFixture(t)
	claims := claimsWith(map[string]any{"reseller_id": "r-9", "aud": []any{testAudience}})
	p, err := f.a.AuthenticateToken(context.Background(), mustSign(t, f.rsa, claims))
	if err != nil {
		t.Fatal(err)
	}
	if p.User != "u-1" || p.Tenant != "p-1" || p.Reseller != "r-9" || p.Issuer != testIssuer {
		t.Fatalf("principal %+v", p)
	}
	if !slices.Equal(p.Roles, []string{"reader", "images:creator"}) {
		t.Fatalf("roles %v", p.Roles)
	}
	if !p.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("ExpiresAt %v", p.ExpiresAt)
	}
	if p.Claims["sub"] != "u-1" {
		t.Fatalf("claims %v", p.Claims)
	}
}

func TestAuthenticateRequest(t *testing.T) {
	f := newThreatFixture(t)
	obs := newRecordingObserver()
	f.a.obs = obs
	tok := mustSign(t, f.rsa, validClaims())

	r := httptest.NewRequest("GET", "/v2/images", nil)
	r.Header.Set("X-Auth-Token", tok)
	if _, err := f.a.Authenticate(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if got := obs.last(); got != (observedAuth{testIssuer, CodeOK, false}) {
		t.Fatalf("observed %+v", got)
	}

	r = httptest.NewRequest("GET", "/v2/images", nil)
	if _, err := f.a.Authenticate(context.Background(), r); CodeOf(err) != CodeMissing {
		t.Fatalf("want token_missing, got %v", err)
	}
	if got := obs.last(); got != (observedAuth{"", CodeMissing, false}) {
		t.Fatalf("observed %+v", got)
	}

	// An unknown issuer is not a metric label.
	evil := mustSign(t, f.rsa, claimsWith(map[string]any{"iss": "https://evil.example"}))
	if _, err := f.a.AuthenticateToken(context.Background(), evil); CodeOf(err) != CodeBadIssuer {
		t.Fatalf("want bad_issuer, got %v", err)
	}
	if got := obs.last(); got.issuer != "" {
		t.Fatalf("unverified issuer leaked into observer: %+v", got)
	}
}

func TestNoKIDWithManyKeysIsRefused(t *testing.T) {
	var signers []*Signer
	for i := range maxKeysWithoutKID + 1 {
		signers = append(signers, mustSigner(t, "ES256", string(rune('a'+i))))
	}
	ic := baseIssuer()
	ic.Algorithms = []string{"ES256"}
	ic.KeyFiles = []KeyFile{{Path: writeFile(t, "set.json", jwksDoc(t, signers...))}}
	a := newTestAuthenticator(t, Config{Issuers: []IssuerConfig{ic}}, WithClock(func() time.Time { return t0 }))

	tok := signWith(t, signers[0], validClaims(), map[string]any{"kid": nil})
	_, err := a.AuthenticateToken(context.Background(), tok)
	wantCode(t, err, CodeUnknownKey, tok)

	// With its kid, the same key works.
	if _, err := a.AuthenticateToken(context.Background(), mustSign(t, signers[0], validClaims())); err != nil {
		t.Fatal(err)
	}
}

func TestKeyWithoutKIDMatchesAnyKID(t *testing.T) {
	s := mustSigner(t, "RS256", "whatever-the-idp-says")
	ic := baseIssuer()
	ic.KeyFiles = []KeyFile{{Path: pemFile(t, s)}} // PEM, no kid configured
	a := newTestAuthenticator(t, Config{Issuers: []IssuerConfig{ic}}, WithClock(func() time.Time { return t0 }))
	if _, err := a.AuthenticateToken(context.Background(), mustSign(t, s, validClaims())); err != nil {
		t.Fatal(err)
	}
	other := mustSigner(t, "RS256", "whatever-the-idp-says")
	tok := mustSign(t, other, validClaims())
	_, err := a.AuthenticateToken(context.Background(), tok)
	wantCode(t, err, CodeBadSignature, tok)
}

func TestHMACIssuer(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	ic := baseIssuer()
	ic.Algorithms = []string{"HS256"}
	ic.HMACSecretFile = writeFile(t, "secret", append(secret, '\n'))
	a := newTestAuthenticator(t, Config{Issuers: []IssuerConfig{ic}}, WithClock(func() time.Time { return t0 }))

	sign := func(method jwt.SigningMethod, key any) string {
		s, err := jwt.NewWithClaims(method, validClaims()).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name  string
		token string
		want  Code
	}{
		{"right secret", sign(jwt.SigningMethodHS256, secret), CodeOK},
		{"wrong secret", sign(jwt.SigningMethodHS256, []byte("another secret of thirty-two bytes")), CodeBadSignature},
		{"HS512 not pinned", sign(jwt.SigningMethodHS512, secret), CodeBadAlgorithm},
		{"asymmetric alg on an HMAC issuer", mustSign(t, mustSigner(t, "RS256", ""), validClaims()), CodeBadAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.AuthenticateToken(context.Background(), tt.token)
			wantCode(t, err, tt.want, tt.token)
		})
	}
}

func TestMultipleIssuers(t *testing.T) {
	s1, s2 := mustSigner(t, "RS256", "k"), mustSigner(t, "EdDSA", "k")
	ic1 := baseIssuer()
	ic1.KeyFiles = []KeyFile{{Path: pemFile(t, s1), KID: "k"}}
	ic2 := baseIssuer()
	ic2.Issuer = "https://other.example"
	ic2.Algorithms = []string{"EdDSA"}
	ic2.KeyFiles = []KeyFile{{Path: pemFile(t, s2), KID: "k"}}
	a := newTestAuthenticator(t, Config{Issuers: []IssuerConfig{ic1, ic2}}, WithClock(func() time.Time { return t0 }))

	if _, err := a.AuthenticateToken(context.Background(), mustSign(t, s1, validClaims())); err != nil {
		t.Fatal(err)
	}
	p, err := a.AuthenticateToken(context.Background(), mustSign(t, s2, claimsWith(map[string]any{"iss": "https://other.example"})))
	if err != nil || p.Issuer != "https://other.example" {
		t.Fatalf("%v %+v", err, p)
	}
	// Issuer 2's key cannot speak for issuer 1, even with the same kid.
	tok := mustSign(t, s2, validClaims())
	_, err = a.AuthenticateToken(context.Background(), tok)
	wantCode(t, err, CodeBadAlgorithm, tok)
}

func TestECCurveMustMatchAlg(t *testing.T) {
	// A P-384 key published under the kid of an ES256 token is refused.
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s384 := &Signer{kid: "k", method: jwt.SigningMethodES384, key: key}
	ic := baseIssuer()
	ic.Algorithms = []string{"ES256", "ES384"}
	ic.KeyFiles = []KeyFile{{Path: pemFile(t, s384), KID: "k"}}
	a := newTestAuthenticator(t, Config{Issuers: []IssuerConfig{ic}}, WithClock(func() time.Time { return t0 }))

	if _, err := a.AuthenticateToken(context.Background(), mustSign(t, s384, validClaims())); err != nil {
		t.Fatal(err)
	}
	s256 := mustSigner(t, "ES256", "k")
	tok := mustSign(t, s256, validClaims())
	_, err = a.AuthenticateToken(context.Background(), tok)
	wantCode(t, err, CodeBadAlgorithm, tok)
}
