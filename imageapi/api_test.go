package imageapi

import (
	"net/http"
	"strings"
	"testing"
)

func TestVersionsAndHealth(t *testing.T) {
	for _, mode := range []Mode{Enforcing, Naive} {
		t.Run(mode.String(), func(t *testing.T) {
			a := newDemo(t, mode)
			tests := []struct {
				path string
				code int
			}{
				{"/", http.StatusMultipleChoices},
				{"/versions", http.StatusOK},
			}
			for _, tt := range tests {
				rq := request{method: "GET", path: tt.path, id: anonymous}
				r := rq.build()
				r.Host = "images.example:9292"
				w := httptestServe(a, r)
				if w.Code != tt.code {
					t.Fatalf("GET %s: %d, want %d", tt.path, w.Code, tt.code)
				}
				body := decode[struct {
					Versions []struct {
						ID     string `json:"id"`
						Status string `json:"status"`
						Links  []struct {
							Rel  string `json:"rel"`
							Href string `json:"href"`
						} `json:"links"`
					} `json:"versions"`
				}](t, w)
				if len(body.Versions) == 0 || body.Versions[0].Status != "CURRENT" {
					t.Fatalf("versions: %+v", body.Versions)
				}
				if got := body.Versions[0].Links[0].Href; got != "http://images.example:9292/v2/" {
					t.Fatalf("link %q", got)
				}
			}
			w := expect(t, a, request{method: "GET", path: "/healthcheck"}, http.StatusOK)
			if w.Body.String() != "OK" {
				t.Fatalf("healthcheck body %q", w.Body.String())
			}
		})
	}
}

func TestAuthenticationEnforcing(t *testing.T) {
	a := newDemo(t, Enforcing)
	tests := []struct {
		name string
		id   identity
		path string
		code int
	}{
		{"no identity", anonymous, "/v2/images", http.StatusUnauthorized},
		{"not confirmed", identity{"X-Identity-Status": "Invalid", "X-Project-Id": "1000", "X-Roles": "admin"}, "/v2/images", http.StatusUnauthorized},
		{"lower-case confirmed", identity{"X-Identity-Status": "confirmed", "X-Project-Id": "1000", "X-Roles": "reader"}, "/v2/images", http.StatusUnauthorized},
		{"unknown path still needs identity", anonymous, "/v2/nothing", http.StatusUnauthorized},
		{"schemas need identity", anonymous, "/v2/schemas/image", http.StatusUnauthorized},
		{"confirmed", reader1000, "/v2/images", http.StatusOK},
		{"tenant header", identity{"X-Identity-Status": "Confirmed", "X-Tenant-Id": "1000", "X-Roles": "reader"}, "/v2/images/" + DemoImagePrivateA, http.StatusOK},
		{"no roles cannot list", as("1000"), "/v2/images", http.StatusForbidden},
		{"member without reader cannot list", as("1000", "member"), "/v2/images", http.StatusForbidden},
		{"domain scope refused", func() identity { id := as("1000", "reader"); id["X-Domain-Id"] = "default"; return id }(), "/v2/images", http.StatusForbidden},
		{"system scope refused", func() identity { id := as("1000", "admin"); id["OpenStack-System-Scope"] = "all"; return id }(), "/v2/images", http.StatusForbidden},
		{"versions are public", anonymous, "/versions", http.StatusOK},
		{"long request id", func() identity {
			id := as("1000", "reader")
			id["X-Openstack-Request-Id"] = strings.Repeat("r", 65)
			return id
		}(), "/v2/images", http.StatusInternalServerError},
		{"request id of 64", func() identity {
			id := as("1000", "reader")
			id["X-Openstack-Request-Id"] = strings.Repeat("r", 64)
			return id
		}(), "/v2/images", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := expect(t, a, request{method: "GET", path: tt.path, id: tt.id}, tt.code)
			if tt.code >= 400 {
				if ct := w.Header().Get("Content-Type"); ct != "application/json" {
					t.Fatalf("error content type %q", ct)
				}
				body := decode[ErrorBody](t, w)
				if body.Error.Code != tt.code || body.Error.Title != http.StatusText(tt.code) {
					t.Fatalf("error body %+v", body)
				}
			}
		})
	}
}

func TestNaiveNeedsNoIdentity(t *testing.T) {
	a := newDemo(t, Naive)
	expect(t, a, request{method: "GET", path: "/v2/images/" + DemoImagePrivateC}, http.StatusOK)
	expect(t, a, request{method: "GET", path: "/v2/tasks"}, http.StatusOK)
}

func TestUnmatchedRoutesAnswerJSON(t *testing.T) {
	a := newDemo(t, Enforcing)
	tests := []struct {
		method, path string
		code         int
	}{
		{"GET", "/v2/nothing", http.StatusNotFound},
		{"GET", "/v2/images/" + DemoImageUbuntu + "/nothing", http.StatusNotFound},
		{"POST", "/v2/images/" + DemoImageUbuntu, http.StatusMethodNotAllowed},
		{"DELETE", "/v2/tasks", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := expect(t, a, request{method: tt.method, path: tt.path, id: admin9999}, tt.code)
			if decode[ErrorBody](t, w).Error.Code != tt.code {
				t.Fatalf("body %s", w.Body.String())
			}
			if tt.code == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
				t.Fatal("405 without Allow")
			}
		})
	}
	if got := a.Stats().Count(RouteUnmatched); got != int64(len(tests)) {
		t.Fatalf("unmatched count %d, want %d", got, len(tests))
	}
}

func TestStatsAndRecordedRequests(t *testing.T) {
	a := New(Options{Mode: Enforcing, Now: testClock(), RequestLogSize: 3})
	if err := a.Seed(DemoFixture()); err != nil {
		t.Fatal(err)
	}
	if s := a.Stats(); s.Total != 0 {
		t.Fatalf("fresh API has %d requests", s.Total)
	}
	if _, ok := a.LastRequest(); ok {
		t.Fatal("LastRequest on a fresh API")
	}
	for range 2 {
		expect(t, a, request{method: "GET", path: "/v2/images?limit=2", id: member1000}, http.StatusOK)
	}
	expect(t, a, request{method: "GET", path: "/v2/images/" + DemoImageDebian, id: member2000}, http.StatusOK)
	expect(t, a, request{method: "GET", path: "/healthcheck"}, http.StatusOK)

	s := a.Stats()
	if s.Total != 4 || s.Count(RouteListImages) != 2 || s.Count(RouteGetImage) != 1 || s.Count(RouteHealthcheck) != 1 {
		t.Fatalf("stats %+v", s)
	}
	reqs := a.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d recorded requests, want 3 (ring size)", len(reqs))
	}
	if reqs[0].Seq != 2 || reqs[2].Seq != 4 {
		t.Fatalf("ring order: %d..%d", reqs[0].Seq, reqs[2].Seq)
	}
	get := reqs[1]
	if get.Method != "GET" || get.Path != "/v2/images/"+DemoImageDebian || get.Route != RouteGetImage {
		t.Fatalf("recorded %+v", get)
	}
	if got := get.Header.Get("X-Project-Id"); got != DemoTenantB {
		t.Fatalf("recorded project %q", got)
	}
	if reqs[0].RawQuery != "limit=2" {
		t.Fatalf("raw query %q", reqs[0].RawQuery)
	}
	last, ok := a.LastRequest()
	if !ok || last.Route != RouteHealthcheck {
		t.Fatalf("last %+v", last)
	}
	a.ResetStats()
	if s := a.Stats(); s.Total != 0 || len(a.Requests()) != 0 {
		t.Fatalf("after reset: %+v", s)
	}
}

func TestResponsesCarryRequestID(t *testing.T) {
	a := newDemo(t, Enforcing)
	w := expect(t, a, request{method: "GET", path: "/v2/images", id: reader1000}, http.StatusOK)
	if id := w.Header().Get("X-Openstack-Request-Id"); !strings.HasPrefix(id, "req-") {
		t.Fatalf("request id %q", id)
	}
}

func TestSchemas(t *testing.T) {
	a := newDemo(t, Enforcing)
	for _, name := range []string{"image", "images", "member", "members", "task", "tasks"} {
		t.Run(name, func(t *testing.T) {
			w := expect(t, a, request{method: "GET", path: "/v2/schemas/" + name, id: reader1000}, http.StatusOK)
			doc := decode[map[string]any](t, w)
			if doc["name"] != name {
				t.Fatalf("schema name %v", doc["name"])
			}
			if _, ok := doc["properties"].(map[string]any); !ok {
				t.Fatal("no properties")
			}
		})
	}
	expect(t, a, request{method: "GET", path: "/v2/schemas/unknown", id: reader1000}, http.StatusNotFound)
}

func TestInfo(t *testing.T) {
	a := newDemo(t, Enforcing)
	w := expect(t, a, request{method: "GET", path: "/v2/info/import", id: reader1000}, http.StatusOK)
	body := decode[map[string]map[string]any](t, w)
	if vals, _ := body["import-methods"]["value"].([]any); len(vals) == 0 || vals[0] != "glance-direct" {
		t.Fatalf("import info %v", body)
	}
	w = expect(t, a, request{method: "GET", path: "/v2/info/stores", id: reader1000}, http.StatusOK)
	if !strings.Contains(w.Body.String(), `"id":"file"`) {
		t.Fatalf("stores %s", w.Body.String())
	}
}
