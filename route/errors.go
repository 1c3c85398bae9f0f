package route

import "net/http"

// Stable error codes. They appear in the proxy's JSON error bodies, audit events and metric
// labels, so they never change meaning; a new refusal gets a new code.
const (
	// CodeBadPath: the request target is not in canonical origin form (see CanonicalPath).
	CodeBadPath = "bad_path"
	// CodeBadQuery: the query string could be read in more than one way (see ParseQuery).
	CodeBadQuery = "bad_query"
	// CodeTooManyParams: the query has more parameters than the configured limit.
	CodeTooManyParams = "too_many_params"
	// CodeBadParam: a path parameter (image id, tag, …) is malformed, e.g. too long.
	CodeBadParam = "bad_param"
	// CodeMethodOverride: the request carries a method-override header (see CheckMethod).
	CodeMethodOverride = "method_override"
	// CodeMethodNotAllowed: the method is unknown or not served for this path.
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeNotFound: no route of the dialect has this path.
	CodeNotFound = "not_found"
)

// Error is a refusal by this package. Every error returned by CanonicalPath, ParseQuery,
// CheckMethod, Router.Match and Router.Resolve is an *Error, so the proxy can map it to an
// HTTP status (Status) and report the stable Code without parsing messages.
//
// Messages are fixed strings that never echo the request: they end up in response bodies
// and logs, where attacker-controlled bytes have no business.
type Error struct {
	// Code is one of the Code* constants.
	Code string `json:"code"`
	// Message is a human-readable explanation.
	Message string `json:"message"`
	// Allow lists the methods the path does accept, sorted, when Code is
	// CodeMethodNotAllowed; the proxy sends it as the Allow header (RFC 9110 §15.5.6).
	// It may be empty when the method was refused before the path was known.
	Allow []string `json:"allow,omitempty"`
}

// Error implements the error interface.
func (e *Error) Error() string {
	return "route: " + e.Code + ": " + e.Message
}

// Status returns the HTTP status code the proxy answers with for this refusal:
// 404 for not_found, 405 for method_not_allowed, 400 for everything else.
func (e *Error) Status() int {
	switch e.Code {
	case CodeNotFound:
		return http.StatusNotFound
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	default:
		return http.StatusBadRequest
	}
}

// newError builds an *Error. Errors are allocated per call rather than shared as package
// variables, so that no caller can change another request's error (e.g. its Allow list).
func newError(code, msg string) *Error {
	return &Error{Code: code, Message: msg}
}

func badPath(msg string) *Error  { return newError(CodeBadPath, msg) }
func badQuery(msg string) *Error { return newError(CodeBadQuery, msg) }
