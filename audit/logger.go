package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Observer is told about what happens to events; the proxy counts these as metrics.
type Observer interface {
	// EventWritten is called for each event written to the sink.
	EventWritten()
	// EventDropped is called for each event dropped, with why.
	EventDropped(reason string)
}

// Logger writes events to a sink through a bounded buffer, so that a slow sink delays
// nobody's request: when the buffer is full the event is dropped and counted, never
// silently lost.
type Logger struct {
	events   chan *Event
	sink     io.Writer
	observer Observer
	done     chan struct{}
	// closeMu guards closed: a Log after Close counts a drop instead of panicking on a
	// closed channel.
	closeMu sync.RWMutex
	closed  bool
	errMu   sync.Mutex
	lastErr error
}

// NewLogger starts a logger writing JSON lines to sink with room for buffer events.
func NewLogger(sink io.Writer, buffer int, observer Observer) *Logger {
	if buffer <= 0 {
		buffer = 1
	}
	l := &Logger{
		events:   make(chan *Event, buffer),
		sink:     sink,
		observer: observer,
		done:     make(chan struct{}),
	}
	go l.run()
	return l
}

// Log queues one event. It never blocks.
func (l *Logger) Log(e *Event) {
	if l == nil {
		return
	}
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		l.dropped("closed")
		return
	}
	select {
	case l.events <- e:
	default:
		l.dropped("buffer_full")
	}
}

func (l *Logger) dropped(reason string) {
	if l.observer != nil {
		l.observer.EventDropped(reason)
	}
}

func (l *Logger) run() {
	defer close(l.done)
	w := bufio.NewWriterSize(l.sink, 64<<10)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	// pending counts events encoded into the buffer but not yet flushed: they are only
	// written (or lost) when the flush succeeds (or fails).
	pending := 0
	flush := func() {
		if pending == 0 {
			return
		}
		err := w.Flush()
		for ; pending > 0; pending-- {
			if err != nil {
				l.dropped("write_error")
			} else if l.observer != nil {
				l.observer.EventWritten()
			}
		}
		if err != nil {
			l.setErr(fmt.Errorf("audit: write events: %w", err))
			// A failed bufio.Writer stays failed; start afresh so the sink may recover.
			w.Reset(l.sink)
		}
	}
	for e := range l.events {
		if err := enc.Encode(e); err != nil {
			l.setErr(fmt.Errorf("audit: encode event: %w", err))
			l.dropped("write_error")
			continue
		}
		pending++
		// Flush when the queue is drained, so events reach the sink promptly when idle and
		// in batches when busy.
		if len(l.events) == 0 {
			flush()
		}
	}
	flush()
}

func (l *Logger) setErr(err error) {
	l.errMu.Lock()
	l.lastErr = err
	l.errMu.Unlock()
}

// Err returns the last write error of the sink, if any.
func (l *Logger) Err() error {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.lastErr
}

// Close stops accepting events and writes out those queued, waiting at most until ctx
// ends.
func (l *Logger) Close(ctx context.Context) error {
	l.closeMu.Lock()
	if !l.closed {
		l.closed = true
		close(l.events)
	}
	l.closeMu.Unlock()
	select {
	case <-l.done:
		return l.Err()
	case <-ctx.Done():
		return errors.Join(fmt.Errorf("audit: %d events not flushed: %w", len(l.events), ctx.Err()), l.Err())
	}
}
