package route

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkResolve measures the whole per-request pipeline for a typical member request.
func BenchmarkResolve(b *testing.B) {
	r := NewGlance()
	req := httptest.NewRequest(http.MethodPut,
		"/v2/images/a96b0f9e-5b3c-4d8e-9a39-7c8b6f1e2d3c/members/123456", nil)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", "x")
	b.ReportAllocs()
	for b.Loop() {
		op, _, err := r.Resolve(req, DefaultMaxParams)
		if err != nil || op.Name != "members.update" {
			b.Fatal(op, err)
		}
	}
}

// BenchmarkResolveQuery adds a query string and an encoded tag.
func BenchmarkResolveQuery(b *testing.B) {
	r := NewGlance()
	req := httptest.NewRequest(http.MethodPut,
		"/v2/images/a96b0f9e-5b3c-4d8e-9a39-7c8b6f1e2d3c/tags/my%20tag?limit=20&sort=name:asc", nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := r.Resolve(req, DefaultMaxParams); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveRefused measures the cost of refusing a traversal attempt.
func BenchmarkResolveRefused(b *testing.B) {
	r := NewGlance()
	req := httptest.NewRequest(http.MethodGet, "/v2/images/%2e%2e/%2e%2e/etc/passwd", nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := r.Resolve(req, DefaultMaxParams); err == nil {
			b.Fatal("accepted")
		}
	}
}
