package attack

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/imagegate/imagegate/tests/testenv"
)

// attackerKey is a key pair the attacker made; the proxy trusts nothing about it.
var attackerKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

// claimsFor are valid claims for tenant, as the test issuer would write them.
func claimsFor(tenant string, roles ...string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": testenv.Issuer, "aud": testenv.Audience, "sub": "user-" + tenant,
		"project_id": tenant, "roles": roles,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// with returns a copy of c changed by kv pairs; a nil value deletes the claim.
func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
		} else {
			out[k] = kv[i+1]
		}
	}
	return out
}

// signAs signs claims with key under method and exactly the given JOSE header.
func signAs(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	tok.Header = map[string]any{}
	for k, v := range header {
		tok.Header[k] = v
	}
	tok.Header["alg"] = method.Alg()
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unsigned builds "header.payload." by hand, for alg none and blank signatures.
func unsigned(t *testing.T, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(header) + "." + enc(claims) + "."
}

// attackerJWK is the attacker's public key as an embedded jwk header.
func attackerJWK(t *testing.T) map[string]any {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: &attackerKey.PublicKey, KeyID: "test-1", Algorithm: "RS256", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// manyDots is a token-sized string of dot-separated parts.
func manyDots() string { return strings.Repeat("eyJhIjoxfQ.", 200) + "x" }
