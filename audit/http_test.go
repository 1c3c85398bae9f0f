package audit

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// collector is an OPA-style decision log collector that fails while down is set.
type collector struct {
	mu       sync.Mutex
	ids      map[string]int
	down     atomic.Bool
	attempts atomic.Int64
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.attempts.Add(1)
	if c.down.Load() {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	if r.Header.Get("Content-Encoding") != "gzip" || r.Method != http.MethodPost {
		http.Error(w, "want a gzip POST", http.StatusBadRequest)
		return
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var events []Event
	if err := json.NewDecoder(zr).Decode(&events); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, e := range events {
		c.ids[e.DecisionID]++
	}
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (c *collector) received() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.ids))
	for k, v := range c.ids {
		out[k] = v
	}
	return out
}

func TestHTTPSinkRetriesUntilTheCollectorIsBack(t *testing.T) {
	col := &collector{ids: map[string]int{}}
	col.down.Store(true)
	srv := httptest.NewServer(col)
	defer srv.Close()
	obs := &counter{}
	l, err := New(NewHTTPSink(srv.URL+"/logs", srv.Client()), Options{
		Buffer: 50, BatchSize: 10, MinRetryDelay: 5 * time.Millisecond, MaxRetryDelay: 20 * time.Millisecond, Observer: obs,
	})
	if err != nil {
		t.Fatal(err)
	}
	var sent []string
	for i := 0; i < 40; i++ {
		id := NewDecisionID()
		sent = append(sent, id)
		l.Log(&Event{DecisionID: id, Path: "imagegate/decision"})
	}
	// Let it fail a few times, then bring the collector back.
	for col.attempts.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	col.down.Store(false)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := col.received()
	for _, id := range sent {
		if got[id] != 1 {
			t.Fatalf("event %s delivered %d times", id, got[id])
		}
	}
	if obs.written != 40 || len(obs.dropped) != 0 {
		t.Fatalf("written %d, dropped %v", obs.written, obs.dropped)
	}
}

func TestHTTPSinkCountsDropsBeyondTheBuffer(t *testing.T) {
	col := &collector{ids: map[string]int{}}
	col.down.Store(true)
	srv := httptest.NewServer(col)
	defer srv.Close()
	obs := &counter{}
	l, _ := New(NewHTTPSink(srv.URL, srv.Client()), Options{
		Buffer: 5, BatchSize: 5, MinRetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond, Observer: obs,
	})
	for i := 0; i < 100; i++ {
		l.Log(&Event{DecisionID: NewDecisionID()})
	}
	// The collector stays down through shutdown: what was held is counted too.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = l.Close(ctx)
	obs.mu.Lock()
	defer obs.mu.Unlock()
	total := obs.written
	for _, n := range obs.dropped {
		total += n
	}
	if total != 100 || obs.dropped["buffer_full"] == 0 || obs.dropped["shutdown"] == 0 {
		t.Fatalf("written %d dropped %v: every event must be delivered or counted", obs.written, obs.dropped)
	}
}

func TestMask(t *testing.T) {
	var buf syncBuf
	l, err := New(NewWriterSink(&buf), Options{Buffer: 10, Mask: []string{"/input/principal/user", "/input/query", "/input/nothing"}})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(&Event{DecisionID: "d", Input: EventInput{Query: "name=secret", Principal: &EventPrincipal{User: "alice", Tenant: "1000"}}})
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "alice") || strings.Contains(out, "secret") || !strings.Contains(out, `"tenant":"1000"`) ||
		!strings.Contains(out, `"erased":["/input/principal/user","/input/query"]`) {
		t.Fatalf("masked event: %s", out)
	}
	for _, bad := range []string{"input", "/", "/decision_id"} {
		if _, err := New(NewWriterSink(&buf), Options{Mask: []string{bad}}); err == nil {
			t.Errorf("mask %q accepted", bad)
		}
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
