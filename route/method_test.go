package route

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCheckMethod(t *testing.T) {
	tests := []struct {
		name   string
		method string
		header map[string]string // set with Header.Set (canonical keys)
		raw    map[string]string // set directly, as a server does for odd names
		code   string
	}{
		{"GET", http.MethodGet, nil, nil, ""},
		{"POST", http.MethodPost, nil, nil, ""},
		{"PUT", http.MethodPut, nil, nil, ""},
		{"PATCH", http.MethodPatch, nil, nil, ""},
		{"DELETE", http.MethodDelete, nil, nil, ""},
		{"HEAD passes, routed by the table", http.MethodHead, nil, nil, ""},
		{"OPTIONS passes, routed by the table", http.MethodOptions, nil, nil, ""},

		{"TRACE", http.MethodTrace, nil, nil, CodeMethodNotAllowed},
		{"CONNECT", http.MethodConnect, nil, nil, CodeMethodNotAllowed},
		{"unknown", "PROPFIND", nil, nil, CodeMethodNotAllowed},
		{"lower case", "get", nil, nil, CodeMethodNotAllowed},
		{"mixed case", "Delete", nil, nil, CodeMethodNotAllowed},
		{"empty", "", nil, nil, CodeMethodNotAllowed},

		{"X-HTTP-Method-Override", http.MethodPost, map[string]string{"X-HTTP-Method-Override": "DELETE"}, nil, CodeMethodOverride},
		{"X-HTTP-Method", http.MethodPost, map[string]string{"X-HTTP-Method": "DELETE"}, nil, CodeMethodOverride},
		{"X-Method-Override", http.MethodPost, map[string]string{"X-Method-Override": "DELETE"}, nil, CodeMethodOverride},
		{"override on GET", http.MethodGet, map[string]string{"X-HTTP-Method-Override": "GET"}, nil, CodeMethodOverride},
		{"override empty value", http.MethodPost, map[string]string{"X-HTTP-Method-Override": ""}, nil, CodeMethodOverride},
		{"override lower case key", http.MethodPost, nil, map[string]string{"x-http-method-override": "PUT"}, CodeMethodOverride},
		{"override underscores", http.MethodPost, nil, map[string]string{"X_HTTP_METHOD_OVERRIDE": "PUT"}, CodeMethodOverride},
		{"override mixed separators", http.MethodPost, nil, map[string]string{"X-Http_Method": "PUT"}, CodeMethodOverride},
		{"override beats bad method", http.MethodTrace, map[string]string{"X-Method-Override": "GET"}, nil, CodeMethodOverride},

		{"similar header is fine", http.MethodPost, map[string]string{"X-HTTP-Method-Overrides": "x", "X-Method": "x", "X-Image-Meta-Method": "x"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/v2/images", nil)
			r.Method = tt.method
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			for k, v := range tt.raw {
				r.Header[k] = []string{v}
			}
			e := wantCode(t, CheckMethod(r), tt.code)
			if e == nil {
				return
			}
			want := http.StatusMethodNotAllowed
			if tt.code == CodeMethodOverride {
				want = http.StatusBadRequest
			}
			if e.Status() != want {
				t.Errorf("status = %d, want %d", e.Status(), want)
			}
		})
	}
}
