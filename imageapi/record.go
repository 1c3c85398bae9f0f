package imageapi

import (
	"net/http"
	"sync"
	"time"
)

// Stats counts the requests the API received.
type Stats struct {
	// Total is the number of requests received, matched or not.
	Total int64
	// Routes counts requests per route name (the Route* constants,
	// RouteUnmatched for requests that matched none).
	Routes map[string]int64
}

// Count returns the number of requests received on route.
func (s Stats) Count(route string) int64 { return s.Routes[route] }

// RecordedRequest is what the API saw of one request. The body is not kept.
type RecordedRequest struct {
	// Seq numbers requests from 1 in arrival order.
	Seq int64
	// Time is when the request arrived (Options.Now).
	Time time.Time
	// Method is the HTTP method.
	Method string
	// Path is the decoded URL path; RawPath the escaped form when it differs.
	Path    string
	RawPath string
	// RawQuery is the query string as received, without '?'.
	RawQuery string
	// Host is the Host header.
	Host string
	// Header is a copy of the request headers.
	Header http.Header
	// Route is the route name the request matched (a Route* constant).
	Route string
}

// recorder keeps counters and a bounded ring of recent requests.
type recorder struct {
	mu     sync.Mutex
	total  int64
	routes map[string]int64
	ring   []RecordedRequest
	next   int
	full   bool
}

func (rc *recorder) init(size int) {
	rc.routes = make(map[string]int64)
	if size > 0 {
		rc.ring = make([]RecordedRequest, size)
	}
}

func (rc *recorder) record(r *http.Request, route string, now time.Time) {
	var entry RecordedRequest
	keep := len(rc.ring) > 0
	if keep {
		entry = RecordedRequest{
			Time:     now,
			Method:   r.Method,
			Path:     r.URL.Path,
			RawPath:  r.URL.RawPath,
			RawQuery: r.URL.RawQuery,
			Host:     r.Host,
			Header:   r.Header.Clone(),
			Route:    route,
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.total++
	rc.routes[route]++
	if !keep {
		return
	}
	entry.Seq = rc.total
	rc.ring[rc.next] = entry
	rc.next++
	if rc.next == len(rc.ring) {
		rc.next = 0
		rc.full = true
	}
}

// Stats returns a snapshot of the request counters.
func (a *API) Stats() Stats { return a.rec.stats() }

func (rc *recorder) stats() Stats {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	s := Stats{Total: rc.total, Routes: make(map[string]int64, len(rc.routes))}
	for k, v := range rc.routes {
		s.Routes[k] = v
	}
	return s
}

// Requests returns the recorded requests, oldest first (at most
// Options.RequestLogSize of them).
func (a *API) Requests() []RecordedRequest { return a.rec.requests() }

func (rc *recorder) requests() []RecordedRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []RecordedRequest
	if rc.full {
		out = append(out, rc.ring[rc.next:]...)
	}
	out = append(out, rc.ring[:rc.next]...)
	for i := range out {
		out[i].Header = out[i].Header.Clone()
	}
	return out
}

// LastRequest returns the most recent request, and false when none was
// recorded.
func (a *API) LastRequest() (RecordedRequest, bool) {
	a.rec.mu.Lock()
	defer a.rec.mu.Unlock()
	if len(a.rec.ring) == 0 || (a.rec.next == 0 && !a.rec.full) {
		return RecordedRequest{}, false
	}
	i := a.rec.next - 1
	if i < 0 {
		i = len(a.rec.ring) - 1
	}
	req := a.rec.ring[i]
	req.Header = req.Header.Clone()
	return req, true
}

// ResetStats clears the counters and the recorded requests (images are
// kept).
func (a *API) ResetStats() {
	a.rec.mu.Lock()
	defer a.rec.mu.Unlock()
	a.rec.total = 0
	a.rec.routes = make(map[string]int64)
	clear(a.rec.ring)
	a.rec.next = 0
	a.rec.full = false
}
