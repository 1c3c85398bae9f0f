package authn

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"strconv"

	"github.com/golang-jwt/jwt/v5"
)

// keyKind is the family of key an algorithm verifies with.
type keyKind int

const (
	kindRSA keyKind = iota + 1
	kindEC
	kindEd25519
	kindHMAC
)

func (k keyKind) String() string {
	switch k {
	case kindRSA:
		return "RSA"
	case kindEC:
		return "EC"
	case kindEd25519:
		return "Ed25519"
	case kindHMAC:
		return "HMAC"
	default:
		return "unknown"
	}
}

// Key strength floors. Weaker keys are refused at load time: a 1024-bit RSA
// key or a short HMAC secret makes every other check pointless.
const (
	minRSABits       = 2048
	minHMACSecretLen = 32
)

// algSpec describes one supported JWS algorithm.
type algSpec struct {
	name   string
	kind   keyKind
	curve  string // EC only: the curve name the key must be on
	method jwt.SigningMethod
}

// lookupAlg returns the spec of a supported algorithm. "none" and anything
// unlisted are unsupported. A switch rather than a package-level map keeps
// the table immutable.
func lookupAlg(name string) (algSpec, bool) {
	switch name {
	case "RS256":
		return algSpec{name, kindRSA, "", jwt.SigningMethodRS256}, true
	case "RS384":
		return algSpec{name, kindRSA, "", jwt.SigningMethodRS384}, true
	case "RS512":
		return algSpec{name, kindRSA, "", jwt.SigningMethodRS512}, true
	case "PS256":
		return algSpec{name, kindRSA, "", jwt.SigningMethodPS256}, true
	case "PS384":
		return algSpec{name, kindRSA, "", jwt.SigningMethodPS384}, true
	case "PS512":
		return algSpec{name, kindRSA, "", jwt.SigningMethodPS512}, true
	case "ES256":
		return algSpec{name, kindEC, "P-256", jwt.SigningMethodES256}, true
	case "ES384":
		return algSpec{name, kindEC, "P-384", jwt.SigningMethodES384}, true
	case "ES512":
		return algSpec{name, kindEC, "P-521", jwt.SigningMethodES512}, true
	case "EdDSA":
		return algSpec{name, kindEd25519, "", jwt.SigningMethodEdDSA}, true
	case "HS256":
		return algSpec{name, kindHMAC, "", jwt.SigningMethodHS256}, true
	case "HS384":
		return algSpec{name, kindHMAC, "", jwt.SigningMethodHS384}, true
	case "HS512":
		return algSpec{name, kindHMAC, "", jwt.SigningMethodHS512}, true
	default:
		return algSpec{}, false
	}
}

// fits reports whether key can verify signatures of this algorithm. This is
// the check that defeats algorithm confusion: an RSA public key is never used
// as an HMAC secret, an ES256 token is never checked with a P-384 key, etc.
func (a algSpec) fits(key any) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return a.kind == kindRSA && k.N != nil && k.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey:
		return a.kind == kindEC && k.Curve != nil && k.Curve.Params().Name == a.curve
	case ed25519.PublicKey:
		return a.kind == kindEd25519 && len(k) == ed25519.PublicKeySize
	case []byte:
		return a.kind == kindHMAC && len(k) >= minHMACSecretLen
	default:
		return false
	}
}

// describeKey names a key's type for error messages ("RSA 2048", "EC P-256").
func describeKey(key any) string {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N == nil {
			return "RSA"
		}
		return "RSA " + strconv.Itoa(k.N.BitLen())
	case *ecdsa.PublicKey:
		if k.Curve == nil {
			return "EC"
		}
		return "EC " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case []byte:
		return "HMAC secret"
	default:
		return "unsupported"
	}
}
