package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/audit"
	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/enrich"
	"github.com/imagegate/imagegate/imageapi"
	"github.com/imagegate/imagegate/internal/benchcpu"
	"github.com/imagegate/imagegate/metrics"
	"github.com/imagegate/imagegate/policies"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/route"
)

// The benchmarks of this file run the whole request path in one process: the real
// authenticator, router, policy engine, enrichment client, decision log and metrics,
// with the in-memory image API as the upstream, reached through a RoundTripper that calls
// it directly (no sockets). They measure what imagegate adds to a request; the load
// harness (bench/, docs/benchmarks.md) measures it with real connections.

// inMemory is a RoundTripper serving requests with a handler.
type inMemory struct{ h http.Handler }

func (t inMemory) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	if r.Body == nil {
		r.Body = http.NoBody
	}
	t.h.ServeHTTP(w, r)
	resp := w.Result()
	resp.Request = r
	return resp, nil
}

const benchTenant = "9f3a2c1e5b7d4a6c8e0f1a2b3c4d5e6f"

type benchEnv struct {
	p      *Proxy
	api    *imageapi.API
	signer *authn.Signer
	token  string
}

// newBenchEnv builds the request path in front of upstream (the image API when nil) in
// the given upstream mode.
func newBenchEnv(b *testing.B, mode string, api *imageapi.API, upstream http.Handler) *benchEnv {
	b.Helper()
	if upstream == nil {
		upstream = api
	}
	ctx := context.Background()
	signer, err := authn.NewRSASigner("bench")
	if err != nil {
		b.Fatal(err)
	}
	jwks, err := signer.PublicJWKS()
	if err != nil {
		b.Fatal(err)
	}
	keyFile := filepath.Join(b.TempDir(), "jwks.json")
	if err := os.WriteFile(keyFile, jwks, 0o600); err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	cfg.Upstream.URL = "http://upstream.invalid"
	cfg.Upstream.Mode = mode
	cfg.Auth.Issuers = []authn.IssuerConfig{{
		Issuer: "https://issuer.bench", Audience: []string{"imagegate"}, Algorithms: []string{"RS256"},
		KeyFiles: []authn.KeyFile{{Path: keyFile}},
		Claims:   authn.ClaimsConfig{User: "sub", Tenant: "project_id", Roles: "roles"},
	}}
	transport := inMemory{upstream}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	an, err := authn.New(ctx, cfg.Auth, authn.WithObserver(m))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(an.Close)
	engine, err := policy.New(ctx, policy.Source{Name: "embedded", FS: policies.FS()})
	if err != nil {
		b.Fatal(err)
	}
	up, _ := url.Parse(cfg.Upstream.URL)
	svc := http.Header{}
	svc.Set("X-Identity-Status", "Confirmed")
	svc.Set("X-Project-Id", cfg.Upstream.ServiceIdentity.Project)
	svc.Set("X-Roles", strings.Join(cfg.Upstream.ServiceIdentity.Roles, ","))
	enricher, err := enrich.New(enrich.Options{
		Upstream: up, HTTPClient: &http.Client{Transport: transport}, Headers: svc,
		TTL: time.Hour, MaxEntries: 100000, Timeout: 5 * time.Second, Observer: m,
	})
	if err != nil {
		b.Fatal(err)
	}
	logger := audit.NewLogger(io.Discard, cfg.Audit.Buffer, m)
	b.Cleanup(func() { _ = logger.Close(context.Background()) })
	p, err := New(Options{
		Config: cfg, Authn: an, Router: route.NewGlance(), Policy: engine, Enricher: enricher,
		Audit: logger, Metrics: m, Log: slog.New(slog.DiscardHandler), Transport: transport,
	})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	token, err := signer.Sign(jwt.MapClaims{
		"iss": "https://issuer.bench", "aud": "imagegate", "sub": "user-1", "project_id": benchTenant,
		"roles": []string{"member", "reader"}, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	if err != nil {
		b.Fatal(err)
	}
	return &benchEnv{p: p, api: api, signer: signer, token: token}
}

// serve runs one request through the proxy and checks its status.
func (e *benchEnv) serve(b *testing.B, method, target, body string, want int) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	r.Header.Set("X-Auth-Token", e.token)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	e.p.ServeHTTP(w, r)
	if w.Code != want {
		b.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body.String())
	}
	return w
}

func benchImageID(kind, n int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", kind, n) }

// seedPage seeds n images for benchTenant to see or not: of every 6, its own private
// image, another's public, another's community, another's shared image it accepted,
// another's shared image still pending, another's private image.
func seedPage(b *testing.B, api *imageapi.API, n int) {
	b.Helper()
	epoch := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	seeds := make([]imageapi.SeedImage, n)
	for i := range seeds {
		img := imageapi.Image{ID: benchImageID(7, i), Name: fmt.Sprintf("page-%04d", i), Owner: "another",
			Status: imageapi.StatusActive, DiskFormat: "qcow2", ContainerFormat: "bare",
			Properties: map[string]string{"os_distro": "ubuntu"}, CreatedAt: epoch.Add(time.Duration(i) * time.Minute)}
		var members []imageapi.SeedMember
		switch i % 6 {
		case 0:
			img.Owner, img.Visibility = benchTenant, imageapi.VisibilityPrivate
		case 1:
			img.Visibility = imageapi.VisibilityPublic
		case 2:
			img.Visibility = imageapi.VisibilityCommunity
		case 3:
			img.Visibility = imageapi.VisibilityShared
			members = []imageapi.SeedMember{{Tenant: benchTenant, Status: imageapi.MemberAccepted}}
		case 4:
			img.Visibility = imageapi.VisibilityShared
			members = []imageapi.SeedMember{{Tenant: benchTenant, Status: imageapi.MemberPending}}
		default:
			img.Visibility = imageapi.VisibilityPrivate
		}
		seeds[i] = imageapi.SeedImage{Image: img, Members: members}
	}
	if err := api.SeedImages(seeds...); err != nil {
		b.Fatal(err)
	}
}

// renderPage is the upstream's answer to GET /v2/images?limit=1000 for benchTenant, the
// last page (no next link).
func renderPage(b *testing.B, api *imageapi.API) []byte {
	b.Helper()
	r := httptest.NewRequest("GET", "/v2/images?limit=1000", nil)
	r.Header.Set("X-Identity-Status", "Confirmed")
	r.Header.Set("X-Project-Id", benchTenant)
	r.Header.Set("X-Roles", "member,reader")
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	var page map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
		b.Fatal(err)
	}
	delete(page, "next")
	out, err := json.Marshal(page)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkFilterImages1000 is the list obligation alone on a page asked with
// limit=1000 (memberships cached): in delegated mode the upstream answered the 501 images
// the caller sees and the page passes as it is; in service mode it answered all 1,000
// and the filter removes 499. Target: under 5 ms.
func BenchmarkFilterImages1000(b *testing.B) {
	for _, tc := range []struct {
		mode           string
		apiMode        imageapi.Mode
		items, visible int
	}{
		// Glance's default list: own, public and accepted shared images.
		{config.ModeDelegated, imageapi.Enforcing, 501, 501},
		{config.ModeService, imageapi.Naive, 1000, 501},
	} {
		b.Run(tc.mode, func(b *testing.B) {
			api := imageapi.New(imageapi.Options{Mode: tc.apiMode, RequestLogSize: -1})
			seedPage(b, api, 1000)
			body := renderPage(b, api)
			e := newBenchEnv(b, tc.mode, api, nil)
			principal, err := e.p.authn.Authenticate(context.Background(), func() *http.Request {
				r := httptest.NewRequest("GET", "/v2/images", nil)
				r.Header.Set("X-Auth-Token", e.token)
				return r
			}())
			if err != nil {
				b.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/v2/images?limit=1000", nil)
			x := &exchange{
				op:    route.Operation{Dialect: "glance", Name: "images.list", Params: map[string]string{}},
				query: url.Values{"limit": {"1000"}}, principal: principal,
				decision: policy.Decision{Allow: true, Filter: policy.FilterImages}, decided: true,
			}
			r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x))
			run := func() []byte {
				x.filtered = 0
				out, err := e.p.filterImages(r, x, body)
				if err != nil {
					b.Fatal(err)
				}
				return out
			}
			out := run()
			var page struct{ Images []json.RawMessage }
			if err := json.Unmarshal(out, &page); err != nil || len(page.Images) != tc.visible || x.filtered != tc.items-tc.visible {
				b.Fatalf("kept %d, filtered %d, want %d of %d: %v", len(page.Images), x.filtered, tc.visible, tc.items, err)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			defer benchcpu.PerOp(b)()
			for b.Loop() {
				run()
			}
		})
	}
}

// BenchmarkEnrichedDecision is a full images.get through the handler chain: token
// verified (cached), operation routed, image record and membership from a warm
// enrichment cache, the policy decision, the forward to the in-memory upstream, the
// single-image obligation, the decision event and the metrics. Target: under 100 µs.
func BenchmarkEnrichedDecision(b *testing.B) {
	api := imageapi.New(imageapi.Options{Mode: imageapi.Enforcing, RequestLogSize: -1})
	seedPage(b, api, 6)
	e := newBenchEnv(b, config.ModeDelegated, api, nil)
	// Another tenant's shared image the caller accepted: both lookups are needed.
	target := "/v2/images/" + benchImageID(7, 3)
	e.serve(b, "GET", target, "", http.StatusOK)
	b.ReportAllocs()
	defer benchcpu.PerOp(b)()
	for b.Loop() {
		e.serve(b, "GET", target, "", http.StatusOK)
	}
}

// BenchmarkListPage25 is a full images.list of a default page (25 images) through the
// handler chain, the load harness's list workload in one process. The upstream answers
// the list with bytes rendered beforehand, so that its own work is not counted.
func BenchmarkListPage25(b *testing.B) {
	api := imageapi.New(imageapi.Options{Mode: imageapi.Enforcing, RequestLogSize: -1})
	seedPage(b, api, 60)
	r := httptest.NewRequest("GET", "/v2/images", nil)
	r.Header.Set("X-Identity-Status", "Confirmed")
	r.Header.Set("X-Project-Id", benchTenant)
	r.Header.Set("X-Roles", "member,reader")
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	page := w.Body.Bytes()
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/v2/images" {
			// Glance announces the length of its answers.
			w.Header().Set("Content-Type", "application/json; charset=UTF-8")
			w.Header().Set("Content-Length", strconv.Itoa(len(page)))
			_, _ = w.Write(page)
			return
		}
		api.ServeHTTP(w, r)
	})
	e := newBenchEnv(b, config.ModeDelegated, api, upstream)
	if got := e.serve(b, "GET", "/v2/images", "", http.StatusOK); !bytes.Equal(got.Body.Bytes(), page) {
		b.Fatalf("the page changed on its way: %s", got.Body.String())
	}
	b.ReportAllocs()
	defer benchcpu.PerOp(b)()
	for b.Loop() {
		e.serve(b, "GET", "/v2/images", "", http.StatusOK)
	}
}

// BenchmarkUpstreamGet is the in-memory upstream's own share of BenchmarkEnrichedDecision:
// the same GET sent to the image API directly.
func BenchmarkUpstreamGet(b *testing.B) {
	api := imageapi.New(imageapi.Options{Mode: imageapi.Enforcing, RequestLogSize: -1})
	seedPage(b, api, 6)
	r := httptest.NewRequest("GET", "/v2/images/"+benchImageID(7, 3), nil)
	r.Header.Set("X-Identity-Status", "Confirmed")
	r.Header.Set("X-Project-Id", benchTenant)
	r.Header.Set("X-Roles", "member,reader")
	b.ReportAllocs()
	defer benchcpu.PerOp(b)()
	for b.Loop() {
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
