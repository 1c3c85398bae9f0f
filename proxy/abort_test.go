package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/audit"
	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/enrich"
	"github.com/imagegate/imagegate/metrics"
	"github.com/imagegate/imagegate/policies"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/route"
)

// fixedAuthn authenticates every request as tenant 2000, member.
type fixedAuthn struct{}

func (fixedAuthn) Authenticate(context.Context, *http.Request) (*authn.Principal, error) {
	return &authn.Principal{User: "u", Tenant: "2000", Roles: []string{"member"}, Issuer: "test"}, nil
}

// stubEnricher knows one image of tenant 2000; panics when told to.
type stubEnricher struct{ panics bool }

const stubImage = "00002000-0000-4000-8000-000000000002"

func (s stubEnricher) Image(context.Context, enrich.ImageRef) (map[string]any, error) {
	if s.panics {
		panic("a bug in the enricher")
	}
	return map[string]any{"id": stubImage, "owner": "2000", "visibility": "private", "status": "active"}, nil
}

func (stubEnricher) Membership(context.Context, string, string) (*enrich.Membership, error) {
	return nil, nil
}

func (stubEnricher) Invalidate(enrich.ImageRef) {}

func (stubEnricher) Reseller(context.Context, string, string, string) (map[string]any, error) {
	return nil, nil
}

func (stubEnricher) InvalidateReseller() {}

// syncBuffer collects the decision log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) events(t *testing.T) []audit.Event {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []audit.Event
	for _, line := range bytes.Split(s.b.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var ev audit.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// newTestProxy builds the real chain with the shipped policies around stubs, served by
// a real HTTP server (ReverseProxy aborts streams only under one).
func newTestProxy(t *testing.T, enricher Enricher, upstream http.Handler) (string, *syncBuffer) {
	t.Helper()
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)
	cfg := config.Default()
	cfg.Upstream.URL = up.URL
	engine, err := policy.New(context.Background(), policy.Source{Name: "embedded", FS: policies.FS()})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(prometheus.NewRegistry())
	sink := &syncBuffer{}
	logger := audit.NewLogger(sink, 100, m)
	p, err := New(Options{
		Config: cfg, Authn: fixedAuthn{}, Router: route.NewGlance(), Policy: engine, Enricher: enricher,
		Audit: logger, Metrics: m, Log: slog.New(slog.DiscardHandler), Transport: http.DefaultTransport,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() {
		srv.Close()
		_ = logger.Close(context.Background())
	})
	return srv.URL, sink
}

// waitEvent returns the one decision event written, waiting for the asynchronous log.
func waitEvent(t *testing.T, sink *syncBuffer) audit.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if evs := sink.events(t); len(evs) > 0 {
			if len(evs) != 1 {
				t.Fatalf("%d decision events for one request", len(evs))
			}
			return evs[0]
		}
		if time.Now().After(deadline) {
			t.Fatal("no decision event")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A bug on the request path answers a JSON 500 and logs it; it must not turn into an
// empty 200 (what net/http sends when a recovered handler wrote nothing).
func TestPanicAnswers500AndIsLogged(t *testing.T) {
	url, sink := newTestProxy(t, stubEnricher{panics: true}, http.NotFoundHandler())
	req, _ := http.NewRequest("GET", url+"/v2/images/"+stubImage, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), `"internal_error"`) {
		t.Fatalf("a panic answered %d %s", resp.StatusCode, body)
	}
	ev := waitEvent(t, sink)
	if ev.Result.Status != 500 || ev.Result.Code != codeInternal || ev.Result.Allow {
		t.Fatalf("decision event of a panic: %+v", ev.Result)
	}
}

// A download the upstream cuts halfway is cut for the client too (never completed as a
// success), and its decision event says so.
func TestCutDownloadIsRecorded(t *testing.T) {
	upstream := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "100000")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(make([]byte, 1000))
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	url, sink := newTestProxy(t, stubEnricher{}, upstream)
	resp, err := http.Get(url + "/v2/images/" + stubImage + "/file")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("the client read a cut download without an error: %v", err)
	}
	ev := waitEvent(t, sink)
	if ev.Result.Code != codeStreamAborted || len(ev.Result.Reasons) == 0 {
		t.Fatalf("decision event of a cut download: %+v", ev.Result)
	}
}
