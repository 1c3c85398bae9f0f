package route

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestCanonicalPathRefuses(t *testing.T) {
	tests := []struct {
		name   string
		target string
		why    string // part of the message: the right rule fired
	}{
		// Not origin form.
		{"absolute form", "http://evil/v2/images", "origin form"},
		{"absolute form https", "https://evil:443/v2/images?x=1", "origin form"},
		{"absolute form with user", "http://u:p@evil/v2/images", "origin form"},
		{"asterisk form", "*", "origin form"},
		{"relative", "v2/images", "origin form"},
		{"query only", "?a=b", "origin form"},

		// Dot segments, raw and encoded.
		{"dotdot", "/v2/images/..", "dot segment"},
		{"dotdot middle", "/v2/images/../tasks", "dot segment"},
		{"dotdot leading", "/../v2/images", "dot segment"},
		{"dot", "/v2/images/.", "dot segment"},
		{"dot middle", "/v2/./images", "dot segment"},
		{"encoded dotdot lower", "/v2/images/%2e%2e", "dot segment"},
		{"encoded dotdot upper", "/v2/images/%2E%2E", "dot segment"},
		{"encoded dotdot mixed", "/v2/images/.%2e", "dot segment"},
		{"encoded dotdot mixed 2", "/v2/images/%2E.", "dot segment"},
		{"encoded dotdot traversal", "/v2/images/%2e%2e/%2e%2e/etc", "dot segment"},
		{"encoded dot", "/v2/%2e/images", "dot segment"},
		{"overlong dot", "/v2/images/%c0%ae%c0%ae", "not valid UTF-8"},

		// Double encoding.
		{"double encoded dotdot", "/v2/images/%252e%252e", "double percent-encoding"},
		{"double encoded slash", "/v2/images/a%252fb", "double percent-encoding"},
		{"encoded percent", "/v2/images/100%25", "double percent-encoding"},

		// Slashes and backslashes.
		{"encoded slash", "/v2/images/a%2fb", "encoded slash"},
		{"encoded slash upper", "/v2/images/a%2Fb", "encoded slash"},
		{"encoded backslash", "/v2/images/a%5cb", "backslash"},
		{"encoded backslash upper", "/v2/images/..%5C..%5Cetc", "backslash"},
		{"backslash", "/v2/images/a\\b", "backslash"},
		{"empty segment", "/v2//images", "empty path segment"},
		{"leading double slash", "//v2/images", "empty path segment"},
		{"double slash only", "//", "empty path segment"},
		{"protocol relative", "//evil/v2/images", "empty path segment"},
		{"trailing slash", "/v2/images/", "trailing slash"},
		{"trailing slash with query", "/v2/images/?limit=1", "trailing slash"},

		// Path parameters and fragments.
		{"semicolon", "/v2/images;params", "semicolon"},
		{"semicolon segment", "/v2/images/abc;jsessionid=1", "semicolon"},
		{"encoded semicolon", "/v2/images/abc%3bx", "semicolon"},
		{"encoded semicolon upper", "/v2/images/abc%3Bx", "semicolon"},
		{"fragment", "/v2/images#frag", "fragment"},
		{"encoded fragment", "/v2/images/a%23b", "fragment"},

		// Control characters.
		{"encoded NUL", "/v2/images/a%00b", "control character"},
		{"encoded LF", "/v2/images/a%0ab", "control character"},
		{"encoded CR", "/v2/images/a%0Db", "control character"},
		{"encoded TAB", "/v2/images/a%09", "control character"},
		{"encoded DEL", "/v2/images/a%7fb", "control character"},
		{"encoded C1 NEL", "/v2/images/a%c2%85b", "control character"},
		{"encoded C1 CSI", "/v2/images/a%C2%9Bb", "control character"},
		{"raw NUL", "/v2/images/a\x00b", "control character"},
		{"raw LF", "/v2/images/a\nb", "control character"},
		{"raw TAB", "/v2/images/a\tb", "control character"},
		{"raw DEL", "/v2/images/a\x7fb", "control character"},

		// Malformed escapes.
		{"lone percent", "/v2/images/%", "malformed percent escape"},
		{"short escape", "/v2/images/%2", "malformed percent escape"},
		{"non-hex escape", "/v2/images/%zz", "malformed percent escape"},
		{"half hex escape", "/v2/images/%g0", "malformed percent escape"},
		{"percent at end of segment", "/v2/images/a%/b", "malformed percent escape"},

		// Not UTF-8 after decoding.
		{"invalid UTF-8", "/v2/images/%ff", "not valid UTF-8"},
		{"truncated UTF-8", "/v2/images/%c3", "not valid UTF-8"},
		{"surrogate", "/v2/images/%ed%a0%80", "not valid UTF-8"},

		// Raw bytes that must be encoded.
		{"raw non-ASCII", "/v2/images/\u00e9", "must be percent-encoded"},
		{"raw space", "/v2/images/a b", "must be percent-encoded"},
		{"raw quote", "/v2/images/a\"b", "must be percent-encoded"},
		{"raw less-than", "/v2/images/<script>", "must be percent-encoded"},
		{"raw brace", "/v2/images/{id}", "must be percent-encoded"},
		{"raw pipe", "/v2/images/a|b", "must be percent-encoded"},
		{"raw caret", "/v2/images/a^b", "must be percent-encoded"},
		{"raw backtick", "/v2/images/a`b", "must be percent-encoded"},
		{"raw bracket", "/v2/images/[::1]", "must be percent-encoded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := serverRequest(t, http.MethodGet, tt.target)
			p, err := CanonicalPath(r)
			e := wantCode(t, err, CodeBadPath)
			if !strings.Contains(e.Message, tt.why) {
				t.Errorf("message = %q, want it to mention %q", e.Message, tt.why)
			}
			if p != "" {
				t.Errorf("path = %q on error", p)
			}
			if e.Status() != http.StatusBadRequest {
				t.Errorf("status = %d", e.Status())
			}
		})
	}
}

func TestCanonicalPathAccepts(t *testing.T) {
	tests := []struct {
		name   string
		target string
		want   string
	}{
		{"root", "/", "/"},
		{"root with query", "/?x=1", "/"},
		{"images", "/v2/images", "/v2/images"},
		{"query", "/v2/images?limit=10&marker=abc", "/v2/images"},
		{"empty query", "/v2/images?", "/v2/images"},
		{"uuid", "/v2/images/a96b0f9e-5b3c-4d8e-9a39-7c8b6f1e2d3c", "/v2/images/a96b0f9e-5b3c-4d8e-9a39-7c8b6f1e2d3c"},
		{"encoded space", "/v2/images/x/tags/my%20tag", "/v2/images/x/tags/my tag"},
		{"over-encoded letters", "/v2/im%61ges", "/v2/images"},
		{"encoded question mark", "/v2/images/x/tags/a%3Fb", "/v2/images/x/tags/a?b"},
		{"plus is literal", "/v2/images/x/tags/a+b", "/v2/images/x/tags/a+b"},
		{"sub-delims", "/v2/images/x/tags/a!$&'()*,=:@~_-.b", "/v2/images/x/tags/a!$&'()*,=:@~_-.b"},
		{"dot prefix", "/v2/images/.hidden", "/v2/images/.hidden"},
		{"three dots", "/v2/images/...", "/v2/images/..."},
		{"dot inside", "/v2/images/a..b", "/v2/images/a..b"},
		{"encoded UTF-8", "/v2/images/x/tags/%C3%A9t%C3%A9", "/v2/images/x/tags/été"},
		{"fullwidth dots stay", "/v2/images/%EF%BC%8E%EF%BC%8E", "/v2/images/\uff0e\uff0e"},
		{"case kept", "/V2/Images", "/V2/Images"},
		{"encoded replacement char", "/v2/images/%EF%BF%BD", "/v2/images/\ufffd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := serverRequest(t, http.MethodGet, tt.target)
			got, err := CanonicalPath(r)
			wantCode(t, err, "")
			if got != tt.want {
				t.Errorf("path = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCanonicalPathTargetForms covers request lines only a real server produces:
// CONNECT's authority form and OPTIONS' asterisk form.
func TestCanonicalPathTargetForms(t *testing.T) {
	tests := []struct {
		name   string
		method string
		target string
	}{
		{"authority form", http.MethodConnect, "evil:443"},
		{"asterisk form", http.MethodOptions, "*"},
		{"absolute form", http.MethodGet, "http://evil/v2/images"},
		{"scheme without slashes", http.MethodGet, "mailto:x@evil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.target, nil)
			_, err := CanonicalPath(r)
			wantCode(t, err, CodeBadPath)
		})
	}
}

// TestCanonicalPathURLMismatch: after the server parsed the target, nothing may have
// changed r.URL, or the proxy would forward something other than what was checked.
func TestCanonicalPathURLMismatch(t *testing.T) {
	tests := []struct {
		name   string
		target string
		alter  func(u *url.URL)
	}{
		{"path rewritten", "/v2/images", func(u *url.URL) { u.Path = "/v2/tasks" }},
		{"raw path rewritten", "/v2/images/x/tags/my%20tag", func(u *url.URL) { u.RawPath = "/v2/images/x/tags/my+tag" }},
		{"raw path smuggles traversal", "/v2/images/x", func(u *url.URL) { u.RawPath = "/v2/images/%2e%2e" }},
		{"raw path dropped for a non-default encoding", "/v2/im%61ges", func(u *url.URL) { u.RawPath = "" }},
		{"query rewritten", "/v2/images?limit=1", func(u *url.URL) { u.RawQuery = "limit=1&owner=x" }},
		{"query added", "/v2/images", func(u *url.URL) { u.RawQuery = "owner=x" }},
		{"host set", "/v2/images", func(u *url.URL) { u.Host = "evil" }},
		{"scheme set", "/v2/images", func(u *url.URL) { u.Scheme = "http" }},
		{"user set", "/v2/images", func(u *url.URL) { u.User = url.User("x") }},
		{"opaque set", "/v2/images", func(u *url.URL) { u.Opaque = "//evil/v2/images" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.target, nil)
			if _, err := CanonicalPath(r); err != nil {
				t.Fatalf("unaltered request refused: %v", err)
			}
			tt.alter(r.URL)
			_, err := CanonicalPath(r)
			wantCode(t, err, CodeBadPath)
		})
	}
}

// TestCanonicalPathClientRequest: without RequestURI (a client-built request) the URL is
// the target and gets the same checks.
func TestCanonicalPathClientRequest(t *testing.T) {
	tests := []struct {
		name string
		url  string
		path string // "" means refused
	}{
		{"plain", "http://upstream/v2/images/x", "/v2/images/x"},
		{"encoded tag", "http://upstream/v2/images/x/tags/my%20tag", "/v2/images/x/tags/my tag"},
		{"dotdot", "http://upstream/v2/images/%2e%2e", ""},
		{"empty path", "http://upstream", ""},
		{"trailing slash", "http://upstream/v2/images/", ""},
		{"opaque", "mailto:x@evil", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodGet, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := CanonicalPath(r)
			if tt.path == "" {
				wantCode(t, err, CodeBadPath)
				return
			}
			wantCode(t, err, "")
			if got != tt.path {
				t.Errorf("path = %q, want %q", got, tt.path)
			}
		})
	}
}

func TestCanonicalPathNoURL(t *testing.T) {
	_, err := CanonicalPath(&http.Request{Method: http.MethodGet, RequestURI: "/"})
	wantCode(t, err, CodeBadPath)
	_, err = CanonicalPath(nil)
	wantCode(t, err, CodeBadPath)
}

// TestCanonicalPathRawPathOverride simulates a server that received a target net/http
// would refuse itself: the check reads RequestURI and URL.RawPath, never just URL.Path.
func TestCanonicalPathRawPathOverride(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/v2/images/x", nil)
	r.RequestURI = "/v2/images/%2e%2e"
	r.URL.RawPath = "/v2/images/%2e%2e"
	_, err := CanonicalPath(r)
	wantCode(t, err, CodeBadPath)
}
