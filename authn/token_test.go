package authn

import (
	"net/http/httptest"
	"testing"
)

func TestTokenFromRequest(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string][]string
		want    string
		code    Code
	}{
		{"none", nil, "", CodeMissing},
		{"X-Auth-Token", map[string][]string{"X-Auth-Token": {"a.b.c"}}, "a.b.c", CodeOK},
		{"X-Auth-Token with spaces", map[string][]string{"X-Auth-Token": {"  a.b.c "}}, "a.b.c", CodeOK},
		{"Bearer", map[string][]string{"Authorization": {"Bearer a.b.c"}}, "a.b.c", CodeOK},
		{"bearer lower case", map[string][]string{"Authorization": {"bearer a.b.c"}}, "a.b.c", CodeOK},
		{"both, same token", map[string][]string{"X-Auth-Token": {"a.b.c"}, "Authorization": {"Bearer a.b.c"}}, "a.b.c", CodeOK},
		{"both, different tokens", map[string][]string{"X-Auth-Token": {"a.b.c"}, "Authorization": {"Bearer d.e.f"}}, "", CodeMalformed},
		{"Basic auth", map[string][]string{"Authorization": {"Basic dXNlcjpwYXNz"}}, "", CodeMalformed},
		{"Basic auth next to X-Auth-Token", map[string][]string{"X-Auth-Token": {"a.b.c"}, "Authorization": {"Basic dXNlcjpwYXNz"}}, "", CodeMalformed},
		{"Bearer without token", map[string][]string{"Authorization": {"Bearer "}}, "", CodeMalformed},
		{"Bearer alone", map[string][]string{"Authorization": {"Bearer"}}, "", CodeMalformed},
		{"empty X-Auth-Token", map[string][]string{"X-Auth-Token": {""}}, "", CodeMalformed},
		{"two X-Auth-Token headers", map[string][]string{"X-Auth-Token": {"a.b.c", "d.e.f"}}, "", CodeMalformed},
		{"two Authorization headers", map[string][]string{"Authorization": {"Bearer a.b.c", "Bearer a.b.c"}}, "", CodeMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v2/images?X-Auth-Token=x.y.z", nil)
			for k, vs := range tt.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			got, err := TokenFromRequest(r)
			if c := CodeOf(err); c != tt.code {
				t.Fatalf("code %q, want %q (%v)", c, tt.code, err)
			}
			if got != tt.want {
				t.Fatalf("token %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorType(t *testing.T) {
	cause := newError(CodeBadSignature, nil, "inner")
	e := newError(CodeMalformed, cause, "outer %d", 1)
	if e.Error() != "token_malformed: outer 1: bad_signature: inner" {
		t.Fatalf("Error() = %q", e.Error())
	}
	if e.Unwrap() != cause {
		t.Fatal("Unwrap")
	}
	if CodeOf(nil) != CodeOK || CodeOf(e) != CodeMalformed || CodeOf(errorString("x")) != "" {
		t.Fatal("CodeOf")
	}
	if CodeKeysUnavailable.HTTPStatus() != 503 || CodeExpired.HTTPStatus() != 401 || CodeOK.HTTPStatus() != 200 {
		t.Fatal("HTTPStatus")
	}
	if q := quote("\x1b[31m" + string(make([]byte, 100))); len(q) > 4*maxQuoted+8 {
		t.Fatalf("quote not bounded: %d", len(q))
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
