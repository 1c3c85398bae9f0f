package route

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
)

// serverRequest builds the request a net/http server would hand the proxy for target.
// Targets that net/http's parser accepts go through httptest.NewRequest (the server's own
// parsing); for the others — which a real server would already reject, but the checks must
// not rely on that — RequestURI and URL.Path/RawPath are set directly.
func serverRequest(t testing.TB, method, target string) *http.Request {
	t.Helper()
	if r := parsedRequest(method, target); r != nil {
		return r
	}
	r := httptest.NewRequest(method, "/", nil)
	r.RequestURI = target
	r.URL = &url.URL{Path: target, RawPath: target}
	return r
}

// parsedRequest returns httptest.NewRequest(method, target, nil), or nil where that
// panics because net/http cannot parse the request line.
func parsedRequest(method, target string) (r *http.Request) {
	defer func() {
		if recover() != nil {
			r = nil
		}
	}()
	return httptest.NewRequest(method, target, nil)
}

// wantCode fails the test unless err is an *Error with the given code.
func wantCode(t testing.TB, err error, code string) *Error {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *Error with code %q", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("code = %q (%v), want %q", e.Code, e, code)
	}
	return e
}

// wantAllow fails the test unless e.Allow is exactly allow.
func wantAllow(t testing.TB, e *Error, allow ...string) {
	t.Helper()
	if !slices.Equal(e.Allow, allow) {
		t.Fatalf("Allow = %q, want %q", e.Allow, allow)
	}
}

// mustRequest builds a server-side request for a target net/http accepts.
func mustRequest(t testing.TB, method, target string) *http.Request {
	t.Helper()
	r := parsedRequest(method, target)
	if r == nil {
		t.Fatalf("net/http cannot parse %s %q", method, target)
	}
	return r
}
