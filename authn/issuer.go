package authn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxKeysWithoutKID bounds how many keys a token without kid is tried
// against. Trying every key would let one token cost many signature
// verifications; few keys (one static key, a JWKS mid-rotation) is the case
// worth supporting.
const maxKeysWithoutKID = 8

// issuerVerifier verifies the tokens of one configured issuer.
type issuerVerifier struct {
	issuer   string
	algs     []algSpec
	parser   *jwt.Parser
	audience []string // nil: any audience (allow_any_audience)
	static   *keyIndex
	remote   *remoteKeys // nil without jwks_url / oidc_discovery
	claims   claimMapper
}

// newIssuerVerifier loads the issuer's keys: key files, HMAC secret, OIDC
// discovery and the first JWKS fetch. ic has defaults applied and is valid.
func newIssuerVerifier(ctx, base context.Context, idx int, ic IssuerConfig, leeway time.Duration, s *settings) (*issuerVerifier, error) {
	field := fmt.Sprintf("%s.issuers[%d]", fieldPrefix, idx)
	v := &issuerVerifier{
		issuer: ic.Issuer,
		claims: newClaimMapper(ic.Claims, ic.RequiredClaims),
	}
	for _, name := range ic.Algorithms {
		spec, _ := lookupAlg(name) // Validate has vouched for the names
		v.algs = append(v.algs, spec)
	}
	if ic.AllowAnyAudience {
		s.log.Warn("audience check disabled: any token of this issuer is accepted, whoever it was minted for", "issuer", ic.Issuer)
	} else {
		v.audience = slices.Clone(ic.Audience)
	}

	keys, err := loadStaticKeys(ic, v.algs, s.baseDir, field)
	if err != nil {
		return nil, err
	}
	v.static = newKeyIndex(keys)

	if ic.JWKSURL != "" || ic.OIDCDiscovery {
		url, urlField := ic.JWKSURL, field+".jwks_url"
		if ic.OIDCDiscovery {
			urlField = field + ".oidc_discovery"
			if url, err = discoverJWKSURL(ctx, s.client, ic.Issuer); err != nil {
				return nil, fmt.Errorf("%s: %w", urlField, err)
			}
		}
		v.remote = &remoteKeys{
			issuer:      ic.Issuer,
			url:         url,
			client:      s.client,
			algs:        v.algs,
			minInterval: ic.MinRefreshInterval.Std(),
			now:         s.now,
			obs:         s.obs,
			log:         s.log,
			base:        base,
		}
		// Fail at start-up rather than serve 401s: an issuer whose keys
		// cannot be fetched now is most likely misconfigured.
		if err := v.remote.refresh(ctx, true); err != nil {
			return nil, fmt.Errorf("%s: initial JWKS fetch from %s: %w", urlField, url, err)
		}
	}

	methods := make([]string, len(v.algs))
	for i, a := range v.algs {
		methods[i] = a.name
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(methods),
		jwt.WithLeeway(leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(ic.Issuer),
		jwt.WithTimeFunc(s.now),
		jwt.WithJSONNumber(),
		jwt.WithStrictDecoding(),
	)
	return v, nil
}

// loadStaticKeys reads key_files and hmac_secret_file. Each key must fit at
// least one of the issuer's algorithms: a key that can never verify anything
// is a configuration mistake worth failing on.
func loadStaticKeys(ic IssuerConfig, algs []algSpec, baseDir, field string) ([]verificationKey, error) {
	var keys []verificationKey
	for j, kf := range ic.KeyFiles {
		kfField := fmt.Sprintf("%s.key_files[%d]", field, j)
		data, err := os.ReadFile(resolvePath(baseDir, kf.Path))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kfField, err)
		}
		fileKeys, err := parseKeyFile(data, kf.KID)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", kfField, kf.Path, err)
		}
		for _, k := range fileKeys {
			if !fitsAny(k, algs) {
				return nil, fmt.Errorf("%s: %s: %s key %s fits none of the algorithms %v (RSA keys need %d bits or more)",
					kfField, kf.Path, describeKey(k.key), quote(k.kid), ic.Algorithms, minRSABits)
			}
		}
		keys = append(keys, fileKeys...)
	}
	if ic.HMACSecretFile != "" {
		secretField := field + ".hmac_secret_file"
		data, err := os.ReadFile(resolvePath(baseDir, ic.HMACSecretFile))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", secretField, err)
		}
		// Editors and `echo` add a trailing newline that is not part of the secret.
		secret := bytes.TrimRight(data, "\r\n")
		if len(secret) < minHMACSecretLen {
			return nil, fmt.Errorf("%s: the secret is %d bytes, at least %d are required", secretField, len(secret), minHMACSecretLen)
		}
		keys = append(keys, verificationKey{key: secret})
	}
	return keys, nil
}

func resolvePath(baseDir, p string) string {
	if baseDir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(baseDir, p)
}

// algByName returns the issuer's spec for a pinned algorithm.
func (v *issuerVerifier) algByName(name string) (algSpec, bool) {
	for _, a := range v.algs {
		if a.name == name {
			return a, true
		}
	}
	return algSpec{}, false
}

// verify checks token (whose unverified header is hdr) and maps its claims.
func (v *issuerVerifier) verify(ctx context.Context, token string, hdr tokenHeader) (*Principal, *Error) {
	alg, ok := v.algByName(hdr.Alg)
	if !ok {
		return nil, newError(CodeBadAlgorithm, nil, "algorithm %s is not accepted for issuer %s", quote(hdr.Alg), quote(v.issuer))
	}
	claims := jwt.MapClaims{}
	// jwt.WithValidMethods re-checks the alg; the key function only returns
	// keys of this issuer whose type fits alg.
	_, err := v.parser.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) {
		key, kerr := v.keyFor(ctx, hdr.Kid, alg)
		if kerr != nil {
			return nil, kerr
		}
		return key, nil
	})
	if err != nil {
		return nil, mapJWTError(err)
	}
	if aerr := v.checkAudience(claims); aerr != nil {
		return nil, aerr
	}
	return v.claims.principal(v.issuer, claims)
}

// keyFor selects the key(s) for a token's kid and alg. When no key matches
// it refreshes the JWKS (rate-limited) once and looks again; then keys
// without a kid are tried.
func (v *issuerVerifier) keyFor(ctx context.Context, kid string, alg algSpec) (any, *Error) {
	keys, aerr := v.matching(kid, alg)
	if aerr != nil {
		return nil, aerr
	}
	if len(keys) == 0 && v.remote != nil {
		err := v.remote.refresh(ctx, false)
		if err != nil && !errors.Is(err, errThrottled{}) {
			return nil, newError(CodeKeysUnavailable, err, "keys of issuer %s could not be fetched", quote(v.issuer))
		}
		if keys, aerr = v.matching(kid, alg); aerr != nil {
			return nil, aerr
		}
	}
	if len(keys) == 0 && kid != "" {
		keys = usable(alg, v.static.withoutKID(), v.remoteKeys().withoutKID())
	}
	switch len(keys) {
	case 0:
		if kid == "" {
			return nil, newError(CodeUnknownKey, nil, "token has no kid and issuer %s has no %s key", quote(v.issuer), alg.name)
		}
		return nil, newError(CodeUnknownKey, nil, "issuer %s has no key %s", quote(v.issuer), quote(kid))
	case 1:
		return keys[0].key, nil
	default:
		set := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, len(keys))}
		for i, k := range keys {
			set.Keys[i] = k.key
		}
		return set, nil
	}
}

// matching returns the keys with exactly this kid that fit alg, or, for a
// token without kid, every key fitting alg (refused beyond
// maxKeysWithoutKID). A kid that names only keys of the wrong type is a
// bad_algorithm error: that is what an algorithm-confusion attempt looks
// like.
func (v *issuerVerifier) matching(kid string, alg algSpec) ([]verificationKey, *Error) {
	remote := v.remoteKeys()
	if kid == "" {
		keys := usable(alg, v.static.allKeys(), remote.allKeys())
		if len(keys) > maxKeysWithoutKID {
			return nil, newError(CodeUnknownKey, nil, "token has no kid and issuer %s has %d %s keys; a kid is required", quote(v.issuer), len(keys), alg.name)
		}
		return keys, nil
	}
	named := v.static.withKID(kid)
	fromRemote := remote.withKID(kid)
	if len(named) == 0 && len(fromRemote) == 0 {
		return nil, nil
	}
	keys := usable(alg, named, fromRemote)
	if len(keys) == 0 {
		k := named
		if len(k) == 0 {
			k = fromRemote
		}
		return nil, newError(CodeBadAlgorithm, nil, "key %s of issuer %s is a %s key, which cannot verify %s",
			quote(kid), quote(v.issuer), describeKey(k[0].key), alg.name)
	}
	return keys, nil
}

// remoteKeys returns the JWKS keys, nil when there are none.
func (v *issuerVerifier) remoteKeys() *keyIndex {
	if v.remote == nil {
		return nil
	}
	return v.remote.current()
}

// usable returns the keys of the lists that fit alg.
func usable(alg algSpec, lists ...[]verificationKey) []verificationKey {
	var out []verificationKey
	for _, l := range lists {
		for _, k := range l {
			if k.usableFor(alg) {
				out = append(out, k)
			}
		}
	}
	return out
}

// checkAudience requires aud to name one of the issuer's audiences. Done here
// rather than with jwt.WithAudience so that a missing aud is reported as
// bad_audience, not as the same "missing claim" as a missing exp.
func (v *issuerVerifier) checkAudience(claims jwt.MapClaims) *Error {
	if v.audience == nil {
		return nil
	}
	aud, err := claims.GetAudience()
	if err != nil {
		return newError(CodeMalformed, err, "aud is not a string or an array of strings")
	}
	for _, a := range aud {
		if slices.Contains(v.audience, a) {
			return nil
		}
	}
	if len(aud) == 0 {
		return newError(CodeBadAudience, nil, "token has no aud claim")
	}
	return newError(CodeBadAudience, nil, "token audience is none of the accepted audiences of issuer %s", quote(v.issuer))
}

// mapJWTError turns a jwt/v5 error into an *Error with a stable code. When
// several claims are wrong at once the first matching case wins.
func mapJWTError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae // from our key function
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return newError(CodeMalformed, err, "token is not a well-formed JWS")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return newError(CodeBadSignature, err, "token signature is invalid")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return newError(CodeBadSignature, err, "token cannot be verified")
	case errors.Is(err, jwt.ErrTokenExpired):
		return newError(CodeExpired, err, "token has expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return newError(CodeNotYetValid, err, "token is not valid yet (nbf)")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return newError(CodeNotYetValid, err, "token is issued in the future (iat)")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return newError(CodeBadIssuer, err, "token issuer does not match")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return newError(CodeBadAudience, err, "token audience does not match")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return newError(CodeMissingClaim, err, "token lacks a required claim")
	case errors.Is(err, jwt.ErrInvalidType):
		return newError(CodeMalformed, err, "a registered claim has the wrong type")
	default:
		return newError(CodeMalformed, err, "token is invalid")
	}
}
