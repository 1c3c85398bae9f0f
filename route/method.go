package route

import "net/http"

// CheckMethod refuses request methods the proxy never routes, before the path is looked at.
//
// A method-override header (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override)
// is refused with CodeMethodOverride (400): an upstream or middleware honoring it would
// run another operation than the one the policy authorized. Header names are compared
// case-insensitively and with "_" equal to "-", because CGI/WSGI upstreams map both to
// the same environment variable (HTTP_X_HTTP_METHOD_OVERRIDE).
//
// Only GET, POST, PUT, PATCH, DELETE, HEAD and OPTIONS pass; anything else — TRACE,
// CONNECT, lower-case or unknown methods, and the empty method (which net/http would send
// upstream as GET) — is refused with CodeMethodNotAllowed (405). HEAD and OPTIONS pass
// here but are routed only where a route table lists them; the Glance table does not.
func CheckMethod(r *http.Request) error {
	for name := range r.Header {
		if isOverrideHeader(name) {
			return newError(CodeMethodOverride, "method override headers are not accepted")
		}
	}
	if !knownMethod(r.Method) {
		return newError(CodeMethodNotAllowed, "method not allowed")
	}
	return nil
}

// knownMethod reports whether m is a method a route table may use.
func knownMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// isOverrideHeader reports whether the header name is one of the method-override headers,
// ignoring case and treating "_" as "-".
func isOverrideHeader(name string) bool {
	switch len(name) {
	case len("x-http-method-override"):
		return headerNameIs(name, "x-http-method-override")
	case len("x-http-method"):
		return headerNameIs(name, "x-http-method")
	case len("x-method-override"):
		return headerNameIs(name, "x-method-override")
	}
	return false
}

// headerNameIs compares name with want (lower case, "-" as separator) byte by byte.
func headerNameIs(name, want string) bool {
	if len(name) != len(want) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}
