package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

type counter struct {
	mu      sync.Mutex
	written int
	dropped map[string]int
}

func (c *counter) EventWritten() { c.mu.Lock(); c.written++; c.mu.Unlock() }
func (c *counter) EventDropped(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropped == nil {
		c.dropped = map[string]int{}
	}
	c.dropped[reason]++
}

func TestLoggerWritesJSONLinesAndFlushesOnClose(t *testing.T) {
	var buf bytes.Buffer
	obs := &counter{}
	l := NewLogger(&buf, 100, obs)
	for i := 0; i < 10; i++ {
		l.Log(&Event{DecisionID: NewDecisionID(), Timestamp: time.Now(), Path: "imagegate/decision",
			Input: EventInput{Method: "GET", Path: "/v2/images"}, Result: EventResult{Allow: true, Status: 200}})
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 10 || obs.written != 10 {
		t.Fatalf("%d lines, %d written", len(lines), obs.written)
	}
	var ev Event
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil || ev.Path != "imagegate/decision" || len(ev.DecisionID) != 36 {
		t.Fatalf("event %s: %v", lines[0], err)
	}
	l.Log(&Event{})
	if obs.dropped["closed"] != 1 {
		t.Fatal("an event after Close was not counted as dropped")
	}
}

// blockingWriter holds every write until released, like a stuck sink.
type blockingWriter struct {
	release chan struct{}
	buf     bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	return w.buf.Write(p)
}

func TestLoggerDropsAndCountsWhenFull(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{})}
	obs := &counter{}
	l := NewLogger(w, 5, obs)
	start := time.Now()
	for i := 0; i < 100; i++ {
		l.Log(&Event{DecisionID: "x"})
	}
	if time.Since(start) > time.Second {
		t.Fatal("Log blocked on a stuck sink")
	}
	obs.mu.Lock()
	dropped := obs.dropped["buffer_full"]
	obs.mu.Unlock()
	if dropped < 100-5-1 {
		t.Fatalf("dropped %d of 100 with a buffer of 5", dropped)
	}
	close(w.release)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if obs.written+dropped != 100 {
		t.Fatalf("written %d + dropped %d != 100: events lost silently", obs.written, dropped)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestLoggerCountsWriteErrors(t *testing.T) {
	obs := &counter{}
	l := NewLogger(failingWriter{}, 10, obs)
	l.Log(&Event{DecisionID: "x"})
	err := l.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Close = %v", err)
	}
	if obs.dropped["write_error"] != 1 || obs.written != 0 {
		t.Fatalf("a lost event was counted as written: %+v", obs)
	}
}

func TestCloseHonoursDeadline(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{})}
	l := NewLogger(w, 10, nil)
	l.Log(&Event{DecisionID: "x"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := l.Close(ctx); err == nil {
		t.Fatal("Close returned nil with a stuck sink")
	}
	close(w.release)
}
