package route

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
)

func TestResolve(t *testing.T) {
	img := "/v2/images/" + testImage
	tests := []struct {
		name    string
		method  string
		target  string
		header  map[string]string
		code    string
		allow   []string // for 405
		op      string
		params  map[string]string
		query   url.Values
		maxPara int
	}{
		{name: "list", method: "GET", target: "/v2/images?limit=10&tag=a&tag=b",
			op: "images.list", params: map[string]string{}, query: url.Values{"limit": {"10"}, "tag": {"a", "b"}}},
		{name: "member update", method: "PUT", target: img + "/members/" + testMember,
			op: "members.update", params: map[string]string{"image_id": testImage, "member_id": testMember}, query: url.Values{}},
		{name: "encoded tag", method: "PUT", target: img + "/tags/my%20tag",
			op: "tags.add", params: map[string]string{"image_id": testImage, "tag": "my tag"}, query: url.Values{}},
		{name: "encoded unicode tag", method: "DELETE", target: img + "/tags/%C3%A9t%C3%A9",
			op: "tags.delete", params: map[string]string{"image_id": testImage, "tag": "été"}, query: url.Values{}},
		{name: "over-encoded literal", method: "GET", target: "/v2/im%61ges",
			op: "images.list", params: map[string]string{}, query: url.Values{}},
		{name: "root", method: "GET", target: "/", op: "versions.list", params: map[string]string{}, query: url.Values{}},

		// Path refusals.
		{name: "dotdot", method: "GET", target: "/v2/images/../tasks", code: CodeBadPath},
		{name: "encoded dotdot", method: "GET", target: "/v2/images/%2e%2e/x", code: CodeBadPath},
		{name: "double encoded dotdot", method: "GET", target: "/v2/images/%252e%252e", code: CodeBadPath},
		{name: "encoded slash", method: "GET", target: "/v2/images/x%2fmembers", code: CodeBadPath},
		{name: "encoded backslash", method: "GET", target: "/v2/images/x%5cmembers", code: CodeBadPath},
		{name: "double slash", method: "GET", target: "/v2//images", code: CodeBadPath},
		{name: "trailing slash", method: "GET", target: "/v2/images/", code: CodeBadPath},
		{name: "path params", method: "GET", target: "/v2/images;params", code: CodeBadPath},
		{name: "encoded semicolon", method: "GET", target: "/v2/images%3bx", code: CodeBadPath},
		{name: "fragment", method: "GET", target: "/v2/images#x", code: CodeBadPath},
		{name: "encoded NUL", method: "GET", target: img + "%00", code: CodeBadPath},
		{name: "encoded LF", method: "GET", target: img + "%0a", code: CodeBadPath},
		{name: "absolute form", method: "GET", target: "http://evil/v2/images", code: CodeBadPath},
		{name: "invalid UTF-8", method: "GET", target: "/v2/images/%ff", code: CodeBadPath},

		// Not found, including case and look-alike tricks.
		{name: "upper case", method: "GET", target: "/V2/Images", code: CodeNotFound},
		{name: "upper case version", method: "GET", target: "/V2/images", code: CodeNotFound},
		{name: "encoded upper case", method: "GET", target: "/v2/%49mages", code: CodeNotFound},
		{name: "cyrillic i", method: "GET", target: "/v2/%D1%96mages", code: CodeNotFound},
		{name: "fullwidth dots", method: "GET", target: "/v2/images/x/%EF%BC%8E%EF%BC%8E", code: CodeNotFound},
		{name: "unknown schema", method: "GET", target: "/v2/schemas/metadefs", code: CodeNotFound},

		// Methods.
		{name: "TRACE", method: "TRACE", target: "/v2/images", code: CodeMethodNotAllowed, allow: []string{"GET", "POST"}},
		{name: "TRACE unknown path", method: "TRACE", target: "/nowhere", code: CodeMethodNotAllowed},
		{name: "TRACE unknown schema", method: "TRACE", target: "/v2/schemas/bogus", code: CodeMethodNotAllowed},
		{name: "TRACE bad path", method: "TRACE", target: "/v2/images/..", code: CodeMethodNotAllowed},
		{name: "CONNECT", method: "CONNECT", target: "/v2/images", code: CodeMethodNotAllowed, allow: []string{"GET", "POST"}},
		{name: "OPTIONS", method: "OPTIONS", target: "/v2/images", code: CodeMethodNotAllowed, allow: []string{"GET", "POST"}},
		{name: "HEAD", method: "HEAD", target: img, code: CodeMethodNotAllowed, allow: []string{"DELETE", "GET", "PATCH"}},
		{name: "HEAD download", method: "HEAD", target: img + "/file", code: CodeMethodNotAllowed, allow: []string{"GET", "PUT"}},
		{name: "wrong method", method: "DELETE", target: img + "/members", code: CodeMethodNotAllowed, allow: []string{"GET", "POST"}},
		{name: "override header", method: "POST", target: img + "/members", header: map[string]string{"X-HTTP-Method-Override": "DELETE"}, code: CodeMethodOverride},
		{name: "override header X-HTTP-Method", method: "GET", target: "/v2/images", header: map[string]string{"X-HTTP-Method": "DELETE"}, code: CodeMethodOverride},
		{name: "override header X-Method-Override", method: "GET", target: "/v2/images", header: map[string]string{"X-Method-Override": "DELETE"}, code: CodeMethodOverride},

		// Query refusals.
		{name: "semicolon query", method: "GET", target: "/v2/images?limit=1;owner=x", code: CodeBadQuery},
		{name: "encoded NUL query", method: "GET", target: "/v2/images?name=%00", code: CodeBadQuery},
		{name: "too many params", method: "GET", target: "/v2/images?a=1&b=2&c=3", maxPara: 2, code: CodeTooManyParams},

		// Order: method before path before query before route.
		{name: "override beats bad path", method: "GET", target: "/v2/images/..", header: map[string]string{"X-HTTP-Method-Override": "GET"}, code: CodeMethodOverride},
		{name: "bad path beats bad query", method: "GET", target: "/v2/images/%2e%2e?a=1;b=2", code: CodeBadPath},
		{name: "bad query beats not found", method: "GET", target: "/nowhere?a=%zz", code: CodeBadQuery},
		{name: "bad query beats wrong method", method: "DELETE", target: "/v2/images?a=%zz", code: CodeBadQuery},
	}
	r := NewGlance()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := serverRequest(t, tt.method, tt.target)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			max := tt.maxPara
			if max == 0 {
				max = 10
			}
			op, q, err := r.Resolve(req, max)
			e := wantCode(t, err, tt.code)
			if e != nil {
				if tt.code == CodeMethodNotAllowed {
					wantAllow(t, e, tt.allow...)
				}
				if op.Name != "" || q != nil {
					t.Errorf("result on error: %+v %v", op, q)
				}
				return
			}
			if op.Name != tt.op || !maps.Equal(op.Params, tt.params) {
				t.Errorf("op = %+v, want %s %v", op, tt.op, tt.params)
			}
			if !reflect.DeepEqual(q, tt.query) {
				t.Errorf("query = %v, want %v", q, tt.query)
			}
		})
	}
}

// TestResolveRawQueryOverride: a query the server would parse differently from what is
// set on the URL is refused before the query is parsed.
func TestResolveRawQueryOverride(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/v2/images?limit=1", nil)
	req.URL.RawQuery = "limit=1&owner=someone-else"
	_, _, err := NewGlance().Resolve(req, 10)
	wantCode(t, err, CodeBadPath)
}
