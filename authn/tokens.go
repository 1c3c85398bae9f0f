package authn

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// Signer mints signed tokens with a freshly generated key. It is meant for
// tests, integration tests and demos (an issuer stand-in whose public key is
// given to the Authenticator); it is not a token service.
type Signer struct {
	kid    string
	method jwt.SigningMethod
	key    crypto.Signer
}

// NewRSASigner returns a Signer with a new 2048-bit RSA key that signs RS256
// tokens with the given kid ("" for none).
func NewRSASigner(kid string) (*Signer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating RSA key: %w", err)
	}
	return &Signer{kid: kid, method: jwt.SigningMethodRS256, key: key}, nil
}

// NewECDSASigner returns a Signer with a new P-256 key that signs ES256
// tokens with the given kid ("" for none).
func NewECDSASigner(kid string) (*Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating EC key: %w", err)
	}
	return &Signer{kid: kid, method: jwt.SigningMethodES256, key: key}, nil
}

// NewEd25519Signer returns a Signer with a new Ed25519 key that signs EdDSA
// tokens with the given kid ("" for none).
func NewEd25519Signer(kid string) (*Signer, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating Ed25519 key: %w", err)
	}
	return &Signer{kid: kid, method: jwt.SigningMethodEdDSA, key: key}, nil
}

// KeyID is the kid put in the tokens' header.
func (s *Signer) KeyID() string { return s.kid }

// Algorithm is the JWS alg of the tokens ("RS256", "ES256" or "EdDSA").
func (s *Signer) Algorithm() string { return s.method.Alg() }

// Sign returns a compact JWS of claims. Claims are taken as given: set iss,
// aud, exp, the tenant claim, etc. yourself.
func (s *Signer) Sign(claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(s.method, claims)
	if s.kid != "" {
		t.Header["kid"] = s.kid
	}
	signed, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("signing token: %w", err)
	}
	return signed, nil
}

// PublicJWKS returns a JWK Set (JSON) holding the public key, with kid, alg
// and use "sig", as served at a jwks_url.
func (s *Signer) PublicJWKS() ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key:       s.key.Public(),
		KeyID:     s.kid,
		Algorithm: s.method.Alg(),
		Use:       "sig",
	}}}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encoding JWK Set: %w", err)
	}
	return b, nil
}

// PublicKeyPEM returns the public key as a PEM "PUBLIC KEY" (PKIX) block, as
// used in key_files.
func (s *Signer) PublicKeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(s.key.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
