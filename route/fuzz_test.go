package route

import (
	"net/http"
	"net/url"
	"path"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzCanonicalPath(f *testing.F) {
	for _, s := range []string{
		"/", "/versions", "/v2/images", "/v2/images?limit=1",
		"/v2/images/a96b0f9e-5b3c-4d8e-9a39-7c8b6f1e2d3c/members/123456",
		"/v2/images/x/tags/my%20tag", "/v2/im%61ges", "/v2/schemas/image",
		"/v2/images/..", "/v2/images/%2e%2e", "/v2/images/.%2E", "/v2/images/%252e%252e",
		"/v2/images/a%2fb", "/v2/images/a%5cb", "/v2/images/a\\b", "//", "/v2//images",
		"/v2/images/", "/v2/images;x", "/v2/images/a%3bb", "/v2/images#x", "/v2/images/a%23b",
		"/v2/images/%00", "/v2/images/%0a", "/v2/images/\x00", "/v2/images/%c2%85",
		"/v2/images/%ff", "/v2/images/%c0%ae", "/v2/images/%", "/v2/images/%zz",
		"http://evil/v2/images", "evil:443", "*", "", "?", "/?a=b#c", "/V2/Images",
		"/v2/images/%EF%BC%8E%EF%BC%8E", "/v2/images/\u00e9", "/v2/images/a b",
	} {
		f.Add(s)
	}
	r := NewGlance()
	// Methods tried against every path Match sees.
	fuzzMethods := []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "TRACE", ""}
	f.Fuzz(func(t *testing.T, target string) {
		// Match never panics, whatever it is given.
		for _, m := range fuzzMethods {
			_, _ = r.Match(m, target)
		}

		u, perr := url.ParseRequestURI(target)
		if perr != nil {
			u = &url.URL{}
		}
		req := &http.Request{Method: http.MethodGet, RequestURI: target, URL: u, Header: http.Header{}}
		p, err := CanonicalPath(req)
		if err != nil {
			if p != "" {
				t.Fatalf("path %q returned with error %v", p, err)
			}
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error", err)
			}
			return
		}
		// Anything net/http cannot parse must have been refused.
		if perr != nil {
			t.Fatalf("accepted %q, which net/url refuses: %v", target, perr)
		}
		checkCanonical(t, p)

		// The decoded path is what net/url decodes, and what a reverse proxy would send is
		// exactly the target that was checked.
		rawPath, _, _ := strings.Cut(target, "?")
		if u.Path != p {
			t.Fatalf("path %q, net/url says %q", p, u.Path)
		}
		if esc := u.EscapedPath(); esc != rawPath {
			t.Fatalf("forwarded path %q differs from the checked %q", esc, rawPath)
		}

		// Round trip: escaping the decoded path again gives an accepted target with the
		// same meaning.
		again := escapePath(p)
		u2, err := url.ParseRequestURI(again)
		if err != nil {
			t.Fatalf("re-escaped %q does not parse: %v", again, err)
		}
		p2, err := CanonicalPath(&http.Request{Method: http.MethodGet, RequestURI: again, URL: u2})
		if err != nil || p2 != p {
			t.Fatalf("re-escaped %q: %q, %v; want %q", again, p2, err, p)
		}

		for _, m := range fuzzMethods {
			op, err := r.Match(m, p)
			if err != nil {
				continue
			}
			for k, v := range op.Params {
				if v == "" || len(v) > DefaultMaxParamLen || strings.Contains(v, "/") {
					t.Fatalf("%s %q: param %s = %q", m, p, k, v)
				}
			}
		}
	})
}

// checkCanonical fails unless p has the properties CanonicalPath promises.
func checkCanonical(t *testing.T, p string) {
	t.Helper()
	if p == "" || p[0] != '/' {
		t.Fatalf("path %q is not absolute", p)
	}
	if path.Clean(p) != p {
		t.Fatalf("path %q is not clean (%q)", p, path.Clean(p))
	}
	if p != "/" && strings.HasSuffix(p, "/") {
		t.Fatalf("path %q has a trailing slash", p)
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "." || seg == ".." || (seg == "" && p != "/") {
			t.Fatalf("path %q has segment %q", p, seg)
		}
	}
	if strings.Contains(p, "//") || strings.ContainsAny(p, "\\;#%") {
		t.Fatalf("path %q has a forbidden character", p)
	}
	if !utf8.ValidString(p) {
		t.Fatalf("path %q is not UTF-8", p)
	}
	for _, c := range p {
		if c < 0x20 || c >= 0x7f && c <= 0x9f {
			t.Fatalf("path %q has control character %U", p, c)
		}
	}
}

// escapePath percent-encodes each segment of a decoded path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"", "limit=10", "tag=a&tag=b", "a", "a=", "a==b", "name=my+image", "name=a%2Bb",
		"name=%C3%A9", "a=1;b=2", ";", "a=%", "a=%zz", "a=%00", "a=%0a", "a=\x00", "a=b c",
		"a=\u00e9", "a=1#x", "a=%FF", "a=%C0%AE", "a=%C2%85", "=x", "&", "a=1&&b=2", "a=1&",
		"a=1&b=2&c=3&d=4", "sort=name:asc,status:desc&created_at=gte:2016-04-18T21:38:54Z",
	} {
		f.Add(s, 3)
		f.Add(s, 0)
	}
	f.Fuzz(func(t *testing.T, raw string, maxParams int) {
		maxParams %= 1000 // stay under net/url's own parameter limit
		v, err := ParseQuery(raw, maxParams)
		if err != nil {
			if v != nil {
				t.Fatalf("values %v returned with error %v", v, err)
			}
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error", err)
			}
			return
		}
		limit := maxParams
		if limit <= 0 {
			limit = DefaultMaxParams
		}
		n := 0
		for k, vals := range v {
			n += len(vals)
			if k == "" {
				t.Fatalf("empty key accepted in %q", raw)
			}
			for _, s := range append([]string{k}, vals...) {
				if !utf8.ValidString(s) {
					t.Fatalf("%q: %q is not UTF-8", raw, s)
				}
				for _, c := range s {
					if c < 0x20 || c >= 0x7f && c <= 0x9f {
						t.Fatalf("%q: %q has control character %U", raw, s, c)
					}
				}
			}
		}
		if n > limit {
			t.Fatalf("%q: %d params accepted, limit %d", raw, n, limit)
		}
		// A standard parser — the upstream's stand-in — reads the same parameters.
		std, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatalf("accepted %q, which url.ParseQuery refuses: %v", raw, err)
		}
		if !reflect.DeepEqual(map[string][]string(std), map[string][]string(v)) {
			t.Fatalf("%q: ParseQuery %v, url.ParseQuery %v", raw, v, std)
		}
	})
}
