package route

import (
	"net/http"
	"net/url"
	"strings"
)

// CanonicalPath checks that the request target of r is in canonical origin form and
// returns its percent-decoded path, which is what the router matches and the policy sees.
//
// The proxy forwards the request's original escaped path (and raw query) unchanged when
// this returns nil. That is only safe if the path cannot be read in two ways, so instead
// of normalizing anything, CanonicalPath refuses (with a CodeBadPath *Error):
//
//   - a target that is not in origin form: absolute form ("http://host/…", which would
//     also replace the Host header), authority form ("host:443") and "*";
//   - an empty path, an empty segment ("//"), a trailing slash (other than the root "/");
//   - dot segments "." and "..", raw or percent-encoded in any mix ("%2e", ".%2E", …);
//   - "%25" (a percent-encoded "%", i.e. double encoding), "%2F" (an encoded "/");
//   - backslashes, ";" (path parameters) and "#", raw or encoded;
//   - control characters (C0, DEL, C1), raw or encoded, and malformed escapes;
//   - raw characters RFC 3986 requires to be percent-encoded (space, quotes, "{", "|",
//     non-ASCII bytes, …): upstreams differ on how they read them;
//   - a path that is not valid UTF-8 after decoding;
//   - a request whose URL no longer matches its RequestURI (rewritten after parsing), since
//     then the checked target and the forwarded one could differ.
//
// Any other percent-encoding is allowed and decoded ("my%20tag" → "my tag"). Case is kept:
// routes are case-sensitive.
//
// r.RequestURI is the target as received. A request built by a client (RequestURI empty,
// as from http.NewRequest) is checked on r.URL.EscapedPath(), which is what a proxy would
// send for it.
func CanonicalPath(r *http.Request) (string, error) {
	if r == nil || r.URL == nil {
		return "", badPath("request has no URL")
	}
	u := r.URL
	if u.Opaque != "" {
		return "", badPath("request target is not in origin form")
	}
	target := r.RequestURI
	if target == "" {
		return checkPath(u.EscapedPath())
	}
	if target[0] != '/' {
		return "", badPath("request target is not in origin form")
	}
	rawPath, rawQuery, _ := strings.Cut(target, "?")
	p, err := checkPath(rawPath)
	if err != nil {
		return "", err
	}
	// The server derived r.URL from RequestURI; if they disagree now, something rewrote the
	// URL and what the proxy would forward is not what was just checked.
	if u.Scheme != "" || u.Host != "" || u.User != nil || u.RawQuery != rawQuery ||
		!escapedPathIs(u, rawPath, p) {
		return "", badPath("request URL does not match the request target")
	}
	return p, nil
}

// escapedPathIs reports whether u is, in its path, what net/http's parser makes of the
// escaped path raw (which checkPath accepted and decoded to decoded): Path is the decoded
// form and RawPath is either raw or, when raw is the default encoding, empty. Then
// u.EscapedPath() — what a reverse proxy sends — is raw, since every path checkPath
// accepts is a valid encoding in net/url's sense. Any other RawPath means someone set it.
func escapedPathIs(u *url.URL, raw, decoded string) bool {
	if u.Path != decoded {
		return false
	}
	switch u.RawPath {
	case raw:
		return true
	case "":
		return u.EscapedPath() == raw
	}
	return false
}

// checkPath validates the escaped path raw and returns it decoded.
func checkPath(raw string) (string, error) {
	if raw == "" {
		return "", badPath("empty path")
	}
	if raw[0] != '/' {
		return "", badPath("path does not start with /")
	}
	escapes := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '%' {
			if !isPathChar(c) {
				return "", badPath(pathCharProblem(c, false))
			}
			continue
		}
		b, ok := escapedByte(raw, i)
		if !ok {
			return "", badPath("malformed percent escape")
		}
		if msg := pathCharProblem(b, true); msg != "" {
			return "", badPath(msg)
		}
		escapes++
		i += 2
	}
	if raw == "/" {
		return raw, nil
	}
	p := raw
	if escapes > 0 {
		p = decode(raw, escapes, false)
		// Only escapes can produce non-ASCII bytes: raw ones were refused above.
		if msg := checkText(p); msg != "" {
			return "", badPath(msg)
		}
	}
	// "%2F" was refused, so the segments of the decoded path are exactly those of the raw
	// one: checking them after decoding catches every encoded spelling of "." and "..".
	rest := p[1:]
	for {
		seg, tail, more := strings.Cut(rest, "/")
		switch {
		case seg == "" && !more:
			return "", badPath("trailing slash")
		case seg == "":
			return "", badPath("empty path segment")
		case seg == "." || seg == "..":
			return "", badPath("dot segment")
		}
		if !more {
			return p, nil
		}
		rest = tail
	}
}

// isPathChar reports whether c may appear unencoded in a path: RFC 3986 pchar and "/",
// minus ";" (path parameters, read differently by different servers) and "%" (handled by
// the caller).
func isPathChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', // unreserved
		'!', '$', '&', '\'', '(', ')', '*', '+', ',', '=', // sub-delims but ';'
		':', '@', '/':
		return true
	}
	return false
}

// pathCharProblem explains why byte c is refused in a path, or returns "" if c is fine as
// the value of a percent escape (encoded is true) — raw bytes reach it only once known bad.
func pathCharProblem(c byte, encoded bool) string {
	switch {
	case isControl(c):
		return "control character"
	case c == '\\':
		return "backslash"
	case c == ';':
		return "semicolon (path parameters)"
	case c == '#':
		return "fragment marker #"
	case !encoded:
		return "character that must be percent-encoded"
	case c == '/':
		return "percent-encoded slash"
	case c == '%':
		return "double percent-encoding"
	}
	return ""
}
