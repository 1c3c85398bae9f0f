package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Observer is told about what happens to events; the proxy counts these as metrics.
type Observer interface {
	// EventWritten is called for each event delivered to the sink.
	EventWritten()
	// EventDropped is called for each event dropped, with why.
	EventDropped(reason string)
}

// Sink delivers a batch of events. A sink that may recover (a collector over HTTP) says
// so with Retryable; the logger then keeps the batch and tries again with back-off.
type Sink interface {
	// Write delivers events, each one encoded JSON object.
	Write(ctx context.Context, events []json.RawMessage) error
	// Retryable says whether a failed Write may succeed later.
	Retryable() bool
}

// Options tune a Logger.
type Options struct {
	// Buffer is how many events wait for the sink; beyond it events are dropped and
	// counted, so a slow sink never delays a request.
	Buffer int
	// BatchSize bounds one delivery.
	BatchSize int
	// MinRetryDelay and MaxRetryDelay bound the back-off of a retryable sink.
	MinRetryDelay, MaxRetryDelay time.Duration
	// Mask lists JSON pointers (RFC 6901) into the event to remove before delivery, e.g.
	// /input/principal/user; each removed pointer is listed in the event's "erased".
	Mask []string
	// Observer counts deliveries and drops; nil for none.
	Observer Observer
}

// Logger delivers events to a sink from a goroutine of its own through a bounded buffer.
// Events are never dropped silently: every one is either delivered or counted as dropped
// with a reason (buffer_full, write_error, shutdown, closed).
type Logger struct {
	opts   Options
	sink   Sink
	events chan *Event
	done   chan struct{}
	// deadline is the context Close was given: retries stop when it ends.
	deadline context.Context
	closeMu  sync.RWMutex
	closed   bool
	errMu    sync.Mutex
	lastErr  error
	mask     [][]string
}

// NewLogger starts a logger writing JSON lines to w (no retries: a local writer that fails
// is not going to recover by waiting).
func NewLogger(w io.Writer, buffer int, observer Observer) *Logger {
	l, _ := New(NewWriterSink(w), Options{Buffer: buffer, Observer: observer})
	return l
}

// New starts a logger delivering to sink.
func New(sink Sink, o Options) (*Logger, error) {
	if o.Buffer <= 0 {
		o.Buffer = 1
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	if o.MinRetryDelay <= 0 {
		o.MinRetryDelay = 100 * time.Millisecond
	}
	if o.MaxRetryDelay < o.MinRetryDelay {
		o.MaxRetryDelay = 30 * time.Second
	}
	masks, err := parseMasks(o.Mask)
	if err != nil {
		return nil, err
	}
	l := &Logger{
		opts:     o,
		sink:     sink,
		events:   make(chan *Event, o.Buffer),
		done:     make(chan struct{}),
		deadline: context.Background(),
		mask:     masks,
	}
	go l.run()
	return l, nil
}

// Log queues one event. It never blocks.
func (l *Logger) Log(e *Event) {
	if l == nil {
		return
	}
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		l.dropped("closed", 1)
		return
	}
	select {
	case l.events <- e:
	default:
		l.dropped("buffer_full", 1)
	}
}

func (l *Logger) dropped(reason string, n int) {
	if l.opts.Observer == nil {
		return
	}
	for i := 0; i < n; i++ {
		l.opts.Observer.EventDropped(reason)
	}
}

func (l *Logger) run() {
	defer close(l.done)
	batch := make([]*Event, 0, l.opts.BatchSize)
	for {
		e, ok := <-l.events
		if !ok {
			return
		}
		batch = append(batch[:0], e)
		// Take what else is waiting, so a busy log goes out in batches.
	fill:
		for len(batch) < l.opts.BatchSize {
			select {
			case e, ok := <-l.events:
				if !ok {
					break fill
				}
				batch = append(batch, e)
			default:
				break fill
			}
		}
		l.deliver(batch)
	}
}

// deliver writes one batch, retrying a retryable sink with back-off until it succeeds or
// the logger is closed and its deadline has passed.
func (l *Logger) deliver(batch []*Event) {
	encoded := make([]json.RawMessage, 0, len(batch))
	for _, e := range batch {
		b, err := l.encode(e)
		if err != nil {
			l.setErr(fmt.Errorf("audit: encode event: %w", err))
			l.dropped("write_error", 1)
			continue
		}
		encoded = append(encoded, b)
	}
	if len(encoded) == 0 {
		return
	}
	batch = batch[:len(encoded)]
	delay := l.opts.MinRetryDelay
	for {
		ctx := l.currentDeadline()
		err := l.sink.Write(ctx, encoded)
		if err == nil {
			l.setErr(nil)
			if l.opts.Observer != nil {
				for range batch {
					l.opts.Observer.EventWritten()
				}
			}
			return
		}
		l.setErr(fmt.Errorf("audit: deliver %d events: %w", len(batch), err))
		if !l.sink.Retryable() {
			l.dropped("write_error", len(batch))
			return
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			l.dropped("shutdown", len(batch))
			return
		}
		delay = min(delay*2, l.opts.MaxRetryDelay)
	}
}

func (l *Logger) currentDeadline() context.Context {
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	return l.deadline
}

func (l *Logger) setErr(err error) {
	l.errMu.Lock()
	l.lastErr = err
	l.errMu.Unlock()
}

// Err returns the error of the last delivery, nil when it succeeded.
func (l *Logger) Err() error {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.lastErr
}

// Close stops accepting events and delivers those queued, retrying until ctx ends; what
// is still undelivered then is counted as dropped ("shutdown").
func (l *Logger) Close(ctx context.Context) error {
	l.closeMu.Lock()
	if !l.closed {
		l.closed = true
		l.deadline = ctx
		close(l.events)
	}
	l.closeMu.Unlock()
	select {
	case <-l.done:
		return l.Err()
	case <-ctx.Done():
	}
	// Count what never left the queue. The batch in flight sees the same deadline and is
	// counted by deliver; give it a moment, unless the sink ignores its context.
	n := 0
	for range l.events {
		n++
	}
	l.dropped("shutdown", n)
	select {
	case <-l.done:
	case <-time.After(time.Second):
	}
	return errors.Join(fmt.Errorf("audit: events not delivered before the deadline: %w", ctx.Err()), l.Err())
}
