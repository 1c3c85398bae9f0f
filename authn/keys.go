package authn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// verificationKey is one trusted key of an issuer.
type verificationKey struct {
	kid string // "" when the key has no id
	alg string // the JWK's "alg", "" when unrestricted
	key any    // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte
}

// usableFor reports whether k may verify a token signed with alg.
func (k verificationKey) usableFor(alg algSpec) bool {
	if k.alg != "" && k.alg != alg.name {
		return false
	}
	return alg.fits(k.key)
}

// keyIndex is an immutable set of keys indexed by kid. It is replaced, never
// modified, so readers need no lock.
type keyIndex struct {
	byKID map[string][]verificationKey
	noKID []verificationKey // keys without a kid
	all   []verificationKey
}

func newKeyIndex(keys []verificationKey) *keyIndex {
	ix := &keyIndex{byKID: make(map[string][]verificationKey, len(keys)), all: keys}
	for _, k := range keys {
		if k.kid == "" {
			ix.noKID = append(ix.noKID, k)
		} else {
			ix.byKID[k.kid] = append(ix.byKID[k.kid], k)
		}
	}
	return ix
}

// len is the number of keys; a nil index is empty.
func (ix *keyIndex) len() int {
	if ix == nil {
		return 0
	}
	return len(ix.all)
}

// withKID returns the keys whose kid is exactly kid. kid is only ever a map
// key: it is never interpreted as a path or URL.
func (ix *keyIndex) withKID(kid string) []verificationKey {
	if ix == nil {
		return nil
	}
	return ix.byKID[kid]
}

// withoutKID returns the keys that have no kid.
func (ix *keyIndex) withoutKID() []verificationKey {
	if ix == nil {
		return nil
	}
	return ix.noKID
}

// allKeys returns every key.
func (ix *keyIndex) allKeys() []verificationKey {
	if ix == nil {
		return nil
	}
	return ix.all
}

// parseKeyFile parses a key file: JSON (a JWK or a JWK Set) or PEM. A
// non-empty kid names the PEM keys and overrides the kid of JWKs.
func parseKeyFile(data []byte, kid string) ([]verificationKey, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var probe struct {
			Keys json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(trimmed, &probe); err != nil {
			return nil, fmt.Errorf("parsing JSON: %w", err)
		}
		var keys []verificationKey
		if probe.Keys != nil {
			set, problems, err := parseJWKSet(trimmed)
			if err != nil {
				return nil, err
			}
			// In a local file every key is deliberate, so a bad one is a
			// configuration error rather than something to skip.
			if len(problems) > 0 {
				return nil, errors.Join(problems...)
			}
			keys = set
		} else {
			k, err := parseJWK(trimmed)
			if err != nil {
				return nil, err
			}
			keys = []verificationKey{k}
		}
		if kid != "" {
			for i := range keys {
				keys[i].kid = kid
			}
		}
		return keys, nil
	}
	return parsePEMKeys(data, kid)
}

// parsePEMKeys reads every PEM block of data as a public key.
func parsePEMKeys(data []byte, kid string) ([]verificationKey, error) {
	var keys []verificationKey
	for n := 0; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		key, err := parsePEMBlock(block)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %w", n, block.Type, err)
		}
		keys = append(keys, verificationKey{kid: kid, key: key})
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM block or JSON key found")
	}
	return keys, nil
}

func parsePEMBlock(block *pem.Block) (any, error) {
	switch {
	case block.Type == "PUBLIC KEY":
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing public key: %w", err)
		}
		return checkPublicKey(key)
	case block.Type == "RSA PUBLIC KEY":
		key, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing RSA public key: %w", err)
		}
		return key, nil
	case block.Type == "CERTIFICATE":
		// The certificate is only a container for the key: issuers rotate
		// keys through configuration, not through certificate validity.
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate: %w", err)
		}
		return checkPublicKey(cert.PublicKey)
	case strings.Contains(block.Type, "PRIVATE KEY"):
		return nil, errors.New("private keys do not belong in the configuration; give the public key")
	default:
		return nil, errors.New("unsupported PEM block type")
	}
}

// checkPublicKey accepts the public key types a JWS algorithm can use.
func checkPublicKey(key any) (any, error) {
	switch key.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return key, nil
	default:
		return nil, fmt.Errorf("unsupported public key type %T", key)
	}
}

// parseJWKSet parses a JWK Set document. Keys that cannot be used (unknown
// key type, private or symmetric material, use other than "sig") are left out
// and reported in problems, as RFC 7517 §5 asks; err is set only when the
// document itself is not a JWK Set.
func parseJWKSet(data []byte) (keys []verificationKey, problems []error, err error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("parsing JWK Set: %w", err)
	}
	if doc.Keys == nil {
		return nil, nil, errors.New("parsing JWK Set: no \"keys\" member")
	}
	for i, raw := range doc.Keys {
		k, err := parseJWK(raw)
		if err != nil {
			problems = append(problems, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		keys = append(keys, k)
	}
	return keys, problems, nil
}

// parseJWK parses one JWK into a public verification key.
func parseJWK(raw []byte) (verificationKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return verificationKey{}, fmt.Errorf("parsing JWK: %w", err)
	}
	kid := jwk.KeyID
	if _, symmetric := jwk.Key.([]byte); symmetric {
		return verificationKey{}, fmt.Errorf("JWK %s is a symmetric key; HMAC secrets are only read from hmac_secret_file", quote(kid))
	}
	if !jwk.Valid() {
		return verificationKey{}, fmt.Errorf("JWK %s is incomplete", quote(kid))
	}
	if !jwk.IsPublic() {
		// A published private key is a compromised key: refuse it rather
		// than quietly using its public half.
		return verificationKey{}, fmt.Errorf("JWK %s contains private key material", quote(kid))
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return verificationKey{}, fmt.Errorf("JWK %s has use %s, not \"sig\"", quote(kid), quote(jwk.Use))
	}
	key, err := checkPublicKey(jwk.Key)
	if err != nil {
		return verificationKey{}, fmt.Errorf("JWK %s: %w", quote(kid), err)
	}
	return verificationKey{kid: kid, alg: jwk.Algorithm, key: key}, nil
}

// fitsAny reports whether k can verify at least one of algs.
func fitsAny(k verificationKey, algs []algSpec) bool {
	for _, a := range algs {
		if k.usableFor(a) {
			return true
		}
	}
	return false
}
