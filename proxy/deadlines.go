package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// Slow peers. imagegate has no whole-request timeout, because image data streams for as
// long as it moves; instead every phase of a request is bounded: headers by the
// server's read_header_timeout, a JSON body by limits.body_read_timeout, and image data
// — from the client, to the client, from the upstream — by limits.data_idle_timeout,
// the longest a stream may go without a byte moving. A client dripping bytes (slowloris)
// or an upstream that stalls mid-answer holds a request for at most that long.

// clientDataBody is an upload's body: each Read must make progress within idle. The
// deadline is lifted once the body is read to its end, so that net/http's background
// read (which notices a client going away) does not time out while the upstream
// answers; after a failed read it stays, so that net/http drops the connection instead
// of waiting for the rest of the body.
type clientDataBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	done bool
}

func (b *clientDataBody) Read(p []byte) (int, error) {
	if !b.done {
		_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	}
	n, err := b.ReadCloser.Read(p)
	if err != nil && !b.done {
		b.done = true
		if err == io.EOF {
			_ = b.rc.SetReadDeadline(time.Time{})
		}
	}
	return n, err
}

// errStalled reads as a timeout (isTimeout), so the client gets 504 upstream_timeout.
var errStalled = fmt.Errorf("the upstream's answer stalled: %w", context.DeadlineExceeded)

// upstreamBody is an upstream answer that must make progress within idle: a stall
// closes it, and the reader gets errStalled.
type upstreamBody struct {
	io.ReadCloser
	timer   *time.Timer
	idle    time.Duration
	mu      sync.Mutex
	stalled bool
}

func newUpstreamBody(body io.ReadCloser, idle time.Duration) *upstreamBody {
	b := &upstreamBody{ReadCloser: body, idle: idle}
	b.timer = time.AfterFunc(idle, func() {
		b.mu.Lock()
		b.stalled = true
		b.mu.Unlock()
		_ = body.Close()
	})
	return b
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.idle)
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.mu.Lock()
		stalled := b.stalled
		b.mu.Unlock()
		if stalled {
			return n, errStalled
		}
	}
	return n, err
}

func (b *upstreamBody) Close() error {
	b.timer.Stop()
	return b.ReadCloser.Close()
}

// isReadTimeout says whether reading a client's body failed on its deadline.
func isReadTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}
