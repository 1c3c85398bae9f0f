package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSendChecksTheUpstreamsBytes: every answer is compared with the upstream's, and
// anything else is a failure (outside an overload run, a 503 too), which makes the
// harness refuse the run.
func TestSendChecksTheUpstreamsBytes(t *testing.T) {
	want := []byte(`{"images": [{"id": "a"}], "first": "/v2/images"}`)
	hops := map[string]http.HandlerFunc{
		"same": func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(want) },
		"altered": func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(strings.Replace(string(want), `"a"`, `"b"`, 1)))
		},
		"truncated": func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(want[:len(want)-1]) },
		"longer":    func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(append(append([]byte{}, want...), ' ')) },
		"empty":     func(w http.ResponseWriter, r *http.Request) {},
		"status":    func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201); _, _ = w.Write(want) },
		"refused":   func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) },
		"error":     func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) },
		"cut": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			_, _ = w.Write(want)
		},
	}
	tests := []struct {
		hop      string
		overload bool
		want     string
	}{
		{"same", false, "ok"},
		{"altered", false, "failed"},
		{"truncated", false, "failed"},
		{"longer", false, "failed"},
		{"empty", false, "failed"},
		{"status", false, "failed"},
		{"refused", false, "failed"},
		{"error", false, "failed"},
		{"cut", false, "failed"},
		{"same", true, "ok"},
		{"refused", true, "refused"},
		{"error", true, "error"},
		{"altered", true, "failed"}, // a wrong answer is never excused by overload
		{"cut", true, "error"},
	}
	client := newClient(4)
	for _, tt := range tests {
		srv := httptest.NewServer(hops[tt.hop])
		got, detail := send(context.Background(), client, srv.URL, call{method: "GET", target: "/v2/images", token: "t", status: 200, want: want}, tt.overload)
		srv.Close()
		if got != tt.want {
			t.Errorf("%s (overload %v): %s %q, want %s", tt.hop, tt.overload, got, detail, tt.want)
		}
	}
}

// TestRateRunCountsFailures: one wrong answer in a fixed-rate run is a failure the run
// reports, so that measure refuses it.
func TestRateRunCountsFailures(t *testing.T) {
	want := []byte(`{"id": "a"}`)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 7 {
			_, _ = w.Write([]byte(`{"id": "x"}`))
			return
		}
		_, _ = w.Write(want)
	}))
	defer srv.Close()
	rr := runRate(context.Background(), newClient(1), srv.URL, []call{{method: "GET", target: "/", status: 200, want: want}},
		rateSpec{rate: 200, dur: 100 * time.Millisecond, maxInFlight: 1, grace: 5 * time.Second})
	if rr.Failures != 1 || rr.OK != rr.Sent-1 || rr.failures() == "" {
		t.Fatalf("sent %d, ok %d, failures %d (%q)", rr.Sent, rr.OK, rr.Failures, rr.failures())
	}
}
