package route

import (
	"errors"
	"net/http"
	"net/url"
)

// Resolve runs every check on a request, in order — CheckMethod, CanonicalPath,
// ParseQuery on req.URL.RawQuery (with maxParams, see ParseQuery), Match — and returns the
// operation with the parsed query. Any error is an *Error from the failing step.
//
// When the method itself is refused (TRACE, CONNECT, unknown) and the path is a known
// canonical one, the error's Allow lists what the path does accept, so the proxy's 405
// carries the Allow header RFC 9110 asks for.
func (r *Router) Resolve(req *http.Request, maxParams int) (Operation, url.Values, error) {
	if err := CheckMethod(req); err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == CodeMethodNotAllowed {
			if p, perr := CanonicalPath(req); perr == nil {
				e.Allow = r.allowed(p)
			}
		}
		return Operation{}, nil, err
	}
	p, err := CanonicalPath(req)
	if err != nil {
		return Operation{}, nil, err
	}
	// CanonicalPath has checked that req.URL.RawQuery is the query of the request target.
	q, err := ParseQuery(req.URL.RawQuery, maxParams)
	if err != nil {
		return Operation{}, nil, err
	}
	op, err := r.Match(req.Method, p)
	if err != nil {
		return Operation{}, nil, err
	}
	return op, q, nil
}
