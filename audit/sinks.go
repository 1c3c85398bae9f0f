package audit

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// WriterSink writes events as JSON lines (stdout, stderr, a file).
type WriterSink struct {
	mu  sync.Mutex
	w   io.Writer
	buf bytes.Buffer
}

// NewWriterSink writes to w.
func NewWriterSink(w io.Writer) *WriterSink { return &WriterSink{w: w} }

// Write writes the batch with one call to the underlying writer, so that lines of
// concurrent writers to the same file do not interleave mid-line.
func (s *WriterSink) Write(_ context.Context, events []json.RawMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Reset()
	for _, e := range events {
		s.buf.Write(e)
		s.buf.WriteByte('\n')
	}
	_, err := s.w.Write(s.buf.Bytes())
	return err
}

// Retryable is false: a local writer that failed will not recover by waiting.
func (s *WriterSink) Retryable() bool { return false }

// HTTPSink uploads events to a collector with OPA's decision-log upload protocol: a POST
// of a gzip-compressed JSON array of events. Any answer but 2xx is an error, and the
// logger retries the batch with back-off.
type HTTPSink struct {
	url    string
	client *http.Client
}

// NewHTTPSink posts to url (e.g. https://collector/logs) with client.
func NewHTTPSink(url string, client *http.Client) *HTTPSink {
	return &HTTPSink{url: url, client: client}
}

// Write uploads one batch.
func (s *HTTPSink) Write(ctx context.Context, events []json.RawMessage) error {
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	zw.Write([]byte{'['}) //nolint:errcheck // writes to a bytes.Buffer do not fail
	for i, e := range events {
		if i > 0 {
			zw.Write([]byte{','}) //nolint:errcheck
		}
		zw.Write(e) //nolint:errcheck
	}
	zw.Write([]byte{']'}) //nolint:errcheck
	if err := zw.Close(); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("collector answered %d", resp.StatusCode)
	}
	return nil
}

// Retryable is true: a collector that is down or overloaded may come back.
func (s *HTTPSink) Retryable() bool { return true }
