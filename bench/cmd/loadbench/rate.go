package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rateSpec is an open-loop run: requests are sent on a fixed schedule whatever the
// answers, and each latency is counted from the instant the request was due, so that a
// hop that stalls is charged for every request it delayed (no coordinated omission).
type rateSpec struct {
	rate        float64
	dur         time.Duration
	maxInFlight int
	// overload counts 503 refusals, other 5xx answers, transport errors and requests
	// still queued when the run ends, instead of failing on them; a 200 that is not the
	// upstream's bytes still fails.
	overload bool
	// grace is how long requests may take after the last one was due.
	grace time.Duration
}

// rateResult is what an open-loop run saw.
type rateResult struct {
	Sent    int `json:"sent"`
	OK      int `json:"ok"`
	Refused int `json:"refused,omitempty"`
	// Errors counts, in an overload run, the answers other than 200 and 503 by status,
	// and transport errors under "transport".
	Errors     map[string]int `json:"errors,omitempty"`
	Unfinished int            `json:"unfinished,omitempty"`
	Failures   int            `json:"failures"`
	Samples    []string       `json:"failure_samples,omitempty"`
	P50        float64        `json:"p50_ms"`
	P90        float64        `json:"p90_ms"`
	P99        float64        `json:"p99_ms"`
	P999       float64        `json:"p999_ms"`
	Max        float64        `json:"max_ms"`
	// Elapsed runs from the first due instant to the last answer.
	Elapsed time.Duration `json:"elapsed_ns"`
}

func (r *rateResult) failures() string {
	if r.Failures == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d requests failed, e.g. %s", r.Failures, r.Sent, strings.Join(r.Samples, "; "))
}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// newClient is the load generator's HTTP client: keep-alive, up to maxConns connections.
func newClient(maxConns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}}
}

// runRate sends spec.rate requests a second, cycling through calls.
func runRate(ctx context.Context, client *http.Client, base string, calls []call, spec rateSpec) *rateResult {
	interval := time.Duration(float64(time.Second) / spec.rate)
	n := int(spec.dur.Seconds() * spec.rate)
	start := time.Now().Add(20 * time.Millisecond)
	reqCtx, cancel := context.WithDeadline(ctx, start.Add(spec.dur+spec.grace))
	defer cancel()

	res := &rateResult{}
	var (
		mu   sync.Mutex
		lats = make([]time.Duration, 0, n)
		last time.Time
		wg   sync.WaitGroup
		sem  = make(chan struct{}, spec.maxInFlight)
	)
	record := func(outcome string, lat time.Duration, detail string) {
		mu.Lock()
		defer mu.Unlock()
		if now := time.Now(); now.After(last) {
			last = now
		}
		switch outcome {
		case "ok":
			res.OK++
			lats = append(lats, lat)
		case "refused":
			res.Refused++
		case "unfinished":
			res.Unfinished++
		case "error":
			if res.Errors == nil {
				res.Errors = map[string]int{}
			}
			res.Errors[detail]++
		default:
			res.Failures++
			if len(res.Samples) < 5 {
				res.Samples = append(res.Samples, detail)
			}
		}
	}
dispatch:
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		select {
		case sem <- struct{}{}:
		case <-reqCtx.Done():
			for range n - i {
				record("unfinished", 0, "")
			}
			res.Sent += n - i
			break dispatch
		}
		res.Sent++
		c := calls[i%len(calls)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			outcome, detail := send(reqCtx, client, base, c, spec.overload)
			record(outcome, time.Since(due), detail)
		}()
	}
	wg.Wait()
	res.Elapsed = last.Sub(start)
	slices.Sort(lats)
	pct := func(p float64) float64 {
		if len(lats) == 0 {
			return 0
		}
		i := int(math.Ceil(p*float64(len(lats)))) - 1
		return float64(lats[max(i, 0)]) / float64(time.Millisecond)
	}
	res.P50, res.P90, res.P99, res.P999, res.Max = pct(0.50), pct(0.90), pct(0.99), pct(0.999), pct(1)
	return res
}

// send makes one request and checks its answer: outcome is ok, refused, unfinished or
// failed.
func send(ctx context.Context, client *http.Client, base string, c call, overload bool) (outcome, detail string) {
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, base+c.target, body)
	if err != nil {
		return "failed", err.Error()
	}
	req.Header.Set("X-Auth-Token", c.token)
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return transportOutcome(err, overload, fmt.Sprintf("%s %s: %v", c.method, c.target, err))
	}
	defer resp.Body.Close()
	if overload && resp.StatusCode == http.StatusServiceUnavailable {
		drain(resp.Body)
		return "refused", ""
	}
	if overload && resp.StatusCode >= 500 {
		drain(resp.Body)
		return "error", strconv.Itoa(resp.StatusCode)
	}
	if resp.StatusCode != c.status {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return "failed", fmt.Sprintf("%s %s: status %d, want %d: %s", c.method, c.target, resp.StatusCode, c.status, b)
	}
	same, err := sameBody(resp.Body, c.want)
	if err != nil {
		return transportOutcome(err, overload, fmt.Sprintf("%s %s: reading the answer: %v", c.method, c.target, err))
	}
	if !same {
		return "failed", fmt.Sprintf("%s %s: the answer is not the upstream's bytes", c.method, c.target)
	}
	return "ok", ""
}

// transportOutcome is the outcome of a request that broke off: in an overload run a
// request still queued at the deadline is unfinished and any other break an error to
// count; otherwise it fails the run.
func transportOutcome(err error, overload bool, detail string) (outcome, why string) {
	switch {
	case overload && errors.Is(err, context.DeadlineExceeded):
		return "unfinished", ""
	case overload:
		return "error", "transport"
	}
	return "failed", detail
}

// sameBody compares a body with want as it streams, without holding it.
func sameBody(r io.Reader, want []byte) (bool, error) {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	off, same := 0, true
	for {
		n, err := r.Read(buf)
		if n > 0 && same {
			if off+n > len(want) || !bytes.Equal(buf[:n], want[off:off+n]) {
				same = false
			}
			off += n
		}
		if err == io.EOF {
			return same && off == len(want), nil
		}
		if err != nil {
			return false, err
		}
	}
}
