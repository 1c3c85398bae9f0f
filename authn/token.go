package authn

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

// Request headers a token may arrive in.
const (
	headerAuthToken     = "X-Auth-Token" // OpenStack style
	headerAuthorization = "Authorization"
)

// TokenFromRequest returns the token of r, taken from the X-Auth-Token header
// or from "Authorization: Bearer <token>". Both may be present only if they
// carry the same token. It returns an [*Error]: [CodeMissing] when there is
// no token, [CodeMalformed] for repeated or empty headers, a non-Bearer
// Authorization scheme, or two different tokens (which one would the
// upstream trust?). Tokens are never read from the query string.
func TokenFromRequest(r *http.Request) (string, error) {
	xs := r.Header.Values(headerAuthToken)
	as := r.Header.Values(headerAuthorization)
	if len(xs) > 1 {
		return "", newError(CodeMalformed, nil, "more than one %s header", headerAuthToken)
	}
	if len(as) > 1 {
		return "", newError(CodeMalformed, nil, "more than one %s header", headerAuthorization)
	}

	var xTok, bTok string
	if len(xs) == 1 {
		xTok = strings.TrimSpace(xs[0])
		if xTok == "" {
			return "", newError(CodeMalformed, nil, "empty %s header", headerAuthToken)
		}
	}
	if len(as) == 1 {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(as[0]), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", newError(CodeMalformed, nil, "%s header is not a Bearer token", headerAuthorization)
		}
		bTok = strings.TrimSpace(rest)
		if bTok == "" {
			return "", newError(CodeMalformed, nil, "empty Bearer token")
		}
	}

	switch {
	case xTok != "" && bTok != "" && xTok != bTok:
		return "", newError(CodeMalformed, nil, "%s and %s carry different tokens", headerAuthToken, headerAuthorization)
	case xTok != "":
		return xTok, nil
	case bTok != "":
		return bTok, nil
	default:
		return "", newError(CodeMissing, nil, "no %s or %s: Bearer header", headerAuthToken, headerAuthorization)
	}
}

// checkSize refuses tokens over the limit and tokens that are not three
// dot-separated parts, before anything else looks at them (including the
// cache, which would otherwise hash an arbitrarily large string).
func checkSize(token string, maxBytes int) *Error {
	if len(token) > maxBytes {
		return newError(CodeTooLarge, nil, "token is %d bytes, the limit is %d", len(token), maxBytes)
	}
	if strings.Count(token, ".") != 2 {
		return newError(CodeMalformed, nil, "token is not three dot-separated parts")
	}
	return nil
}

// checkShape checks that the token is made of base64url characters with a
// non-empty header and payload. It runs on cache misses only. An empty
// signature is left to the verifier, which reports the alg or the signature.
func checkShape(token string) *Error {
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return newError(CodeMalformed, nil, "token contains a character outside base64url at offset %d", i)
		}
	}
	header, rest, _ := strings.Cut(token, ".")
	payload, _, _ := strings.Cut(rest, ".")
	if header == "" || payload == "" {
		return newError(CodeMalformed, nil, "token has an empty header or payload")
	}
	return nil
}

// tokenHeader is the part of the JOSE header we act on. Key-carrying headers
// (jwk, jku, x5u, x5c) are deliberately absent: they are never followed.
type tokenHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

// peek decodes the header and the iss claim without verifying anything. The
// result is only used to choose the issuer configuration and the key; the
// token is verified after that with the issuer's pinned algorithms and keys.
func peek(token string) (tokenHeader, string, *Error) {
	var hdr tokenHeader
	h, rest, _ := strings.Cut(token, ".")
	p, _, _ := strings.Cut(rest, ".")
	enc := base64.RawURLEncoding.Strict()

	hb, err := enc.DecodeString(h)
	if err != nil {
		return hdr, "", newError(CodeMalformed, err, "token header is not base64url")
	}
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return hdr, "", newError(CodeMalformed, err, "token header is not a JSON object with string alg and kid")
	}
	if hdr.Crit != nil {
		// RFC 7515 §4.1.11: a critical extension we do not implement makes
		// the token invalid. We implement none.
		return hdr, "", newError(CodeMalformed, nil, "token has critical header extensions, none are supported")
	}

	pb, err := enc.DecodeString(p)
	if err != nil {
		return hdr, "", newError(CodeMalformed, err, "token payload is not base64url")
	}
	var claims struct {
		Iss *string `json:"iss"`
	}
	if err := json.Unmarshal(pb, &claims); err != nil {
		return hdr, "", newError(CodeMalformed, err, "token payload is not a JSON object with a string iss")
	}
	if claims.Iss == nil || *claims.Iss == "" {
		return hdr, "", newError(CodeBadIssuer, nil, "token has no iss claim")
	}
	return hdr, *claims.Iss, nil
}
