package authn

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// Code is a stable, machine-readable reason for an authentication failure. It
// appears in the JSON error body, in audit events and as a metric label, so
// values never change meaning and the set is small and bounded.
type Code string

// The authentication failure codes.
const (
	// CodeOK is not a failure: it is the code reported to an [Observer] for a
	// successful authentication.
	CodeOK Code = "ok"
	// CodeMissing: the request carries no token.
	CodeMissing Code = "token_missing"
	// CodeMalformed: the token (or the way it was sent) is not a well-formed
	// JWS compact token, or a claim has the wrong JSON type.
	CodeMalformed Code = "token_malformed"
	// CodeTooLarge: the token is longer than max_token_bytes.
	CodeTooLarge Code = "token_too_large"
	// CodeBadAlgorithm: the alg header is not pinned for the issuer, or the
	// key selected by kid is of a type that does not fit the alg.
	CodeBadAlgorithm Code = "bad_algorithm"
	// CodeUnknownKey: no key of the issuer matches the token's kid.
	CodeUnknownKey Code = "unknown_key"
	// CodeBadSignature: the signature does not verify with the issuer's key.
	CodeBadSignature Code = "bad_signature"
	// CodeExpired: exp is in the past (beyond the leeway).
	CodeExpired Code = "token_expired"
	// CodeNotYetValid: nbf or iat is in the future (beyond the leeway).
	CodeNotYetValid Code = "token_not_yet_valid"
	// CodeBadIssuer: iss is absent or names no configured issuer.
	CodeBadIssuer Code = "bad_issuer"
	// CodeBadAudience: aud is absent or names none of the issuer's audiences.
	CodeBadAudience Code = "bad_audience"
	// CodeMissingClaim: a required claim (exp, the user or tenant claim, or
	// one of required_claims) is absent or empty.
	CodeMissingClaim Code = "missing_claim"
	// CodeInvalidClaim: a mapped claim is present but has an unusable type
	// (for example an object where a string is expected).
	CodeInvalidClaim Code = "invalid_claim"
	// CodeKeysUnavailable: the token needs a key that could not be fetched
	// because the issuer's JWKS endpoint failed. This is the only code that
	// is the server's fault rather than the caller's.
	CodeKeysUnavailable Code = "keys_unavailable"
)

// HTTPStatus is the HTTP status a proxy should answer with for this code:
// 503 for [CodeKeysUnavailable] (the caller may retry), 401 otherwise.
func (c Code) HTTPStatus() int {
	switch c {
	case CodeOK:
		return http.StatusOK
	case CodeKeysUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusUnauthorized
	}
}

// Error is an authentication failure with a stable code (used in the JSON
// error body, the audit event and a metric label).
//
// Message is safe to show to the caller and to log: it never contains the
// token, and values taken from the token (iss, kid, alg) are quoted and
// truncated. Err is the underlying cause, for logs only.
type Error struct {
	Code    Code
	Message string
	Err     error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return string(e.Code) + ": " + e.Message + ": " + e.Err.Error()
	}
	return string(e.Code) + ": " + e.Message
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the [Code] of the first [*Error] in err's chain, or "" when
// there is none. CodeOf(nil) is [CodeOK].
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// newError builds an *Error; format and args make the message.
func newError(code Code, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: cause}
}

// maxQuoted bounds how much of an attacker-controlled value ends up in an
// error message, a log line or an audit event.
const maxQuoted = 64

// quote renders an untrusted value (taken from an unverified token) for an
// error message: Go-quoted, so control characters cannot forge log lines, and
// truncated so a large token cannot inflate logs.
func quote(s string) string {
	if len(s) > maxQuoted {
		cut := maxQuoted
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}
