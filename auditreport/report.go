// Package auditreport summarises imagegate decision logs (audit.Event JSON lines) for a
// reviewer: how many requests were allowed, denied or failed; denials by tenant,
// operation, code and reason; the top talkers; and who accessed a given image.
//
// A log is read as a stream, one line at a time, so its size does not matter: memory
// grows with the number of distinct tenants, users, operations and reasons (each tally
// keeps at most 100,000 keys and counts the rest under OtherKey) and with the accesses
// listed for an image (bounded by Options.MaxAccesses), never with the number of events. Lines that are not decision
// events are counted and skipped, not fatal: a log cut by a crash or rotation still
// reports.
package auditreport

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"time"

	"github.com/imagegate/imagegate/audit"
)

// Decisions an event is counted as.
const (
	// DecisionAllow: the policy allowed and the request was forwarded (whatever the
	// upstream then answered).
	DecisionAllow = "allow"
	// DecisionDeny: imagegate refused it (routing, authentication, body, policy), or the
	// policy denied it in dry-run mode.
	DecisionDeny = "deny"
	// DecisionError: imagegate could not decide or forward it (a 5xx of its own: policy
	// error, failed lookup, upstream unreachable).
	DecisionError = "error"
)

// maxKeys bounds each tally of a report (tenants, users, reasons, …); further keys are
// counted under OtherKey. A variable so that the tests can reach it quickly.
var maxKeys = 100000

// Limits on what a report keeps in memory.
const (
	// OtherKey collects what did not fit in a tally.
	OtherKey = "(other)"
	// MaxLineBytes is the longest line read as an event; a longer one is malformed.
	MaxLineBytes = 1 << 20
	// maxMalformedExamples bounds the malformed lines quoted by position.
	maxMalformedExamples = 10
	// NoValue stands for an empty tenant, user or operation (an unauthenticated request,
	// an unknown path, a masked field).
	NoValue = "-"
)

// Options shape a report.
type Options struct {
	// Image, when set, lists every access to the image with this id.
	Image string
	// Top bounds each ranked list; 0 lists everything.
	Top int
	// MaxAccesses bounds the accesses listed for Image (the first ones in the log);
	// the others are counted. 0 means 1000.
	MaxAccesses int
}

// Summary is the report. Lists are sorted by count, largest first, then by name.
type Summary struct {
	// Files are the logs read, in order.
	Files []string `json:"files"`
	// Lines counts the non-empty lines read; Events those that were decision events.
	Lines  int `json:"lines"`
	Events int `json:"events"`
	// Malformed counts the lines skipped; MalformedExamples locates the first ones.
	Malformed         int      `json:"malformed"`
	MalformedExamples []string `json:"malformed_examples,omitempty"`
	// From and To are the first and last event timestamps.
	From *time.Time `json:"from,omitempty"`
	To   *time.Time `json:"to,omitempty"`
	// Totals counts events by decision.
	Totals Totals `json:"totals"`
	// Revisions counts events by the policy revision that decided them.
	Revisions []Count `json:"policy_revisions"`
	// Denials by tenant, operation, code and reason (a denial with two reasons counts
	// for both).
	DenialsByTenant    []Count `json:"denials_by_tenant"`
	DenialsByOperation []Count `json:"denials_by_operation"`
	DenialsByCode      []Count `json:"denials_by_code"`
	DenialsByReason    []Count `json:"denials_by_reason"`
	// Top talkers: tenants, users and client addresses by number of requests.
	TopTenants []Talker `json:"top_tenants"`
	TopUsers   []Talker `json:"top_users"`
	TopClients []Talker `json:"top_clients"`
	// Image lists the accesses to Options.Image.
	Image *ImageReport `json:"image,omitempty"`
}

// Totals counts events by decision.
type Totals struct {
	Requests int `json:"requests"`
	Allow    int `json:"allow"`
	Deny     int `json:"deny"`
	Error    int `json:"error"`
	// DryRun counts denials forwarded anyway because of policy.dry_run (within Deny).
	DryRun int `json:"dry_run"`
	// ShadowDiffer counts events whose shadow policy decided otherwise.
	ShadowDiffer int `json:"shadow_differ"`
}

// Count is one line of a tally.
type Count struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

// Talker is one caller with its requests by decision.
type Talker struct {
	Key      string `json:"key"`
	Requests int    `json:"requests"`
	Allow    int    `json:"allow"`
	Deny     int    `json:"deny"`
	Error    int    `json:"error"`
}

// ImageReport is who accessed one image.
type ImageReport struct {
	ID string `json:"id"`
	// Callers sums the accesses by tenant and user.
	Callers []Caller `json:"callers"`
	// Accesses are the first MaxAccesses accesses, in log order.
	Accesses []Access `json:"accesses"`
	// Omitted counts the accesses not listed.
	Omitted int `json:"omitted"`
}

// Caller is one tenant and user's accesses to the image.
type Caller struct {
	Tenant string    `json:"tenant"`
	User   string    `json:"user"`
	Allow  int       `json:"allow"`
	Deny   int       `json:"deny"`
	Error  int       `json:"error"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
}

// Access is one request naming the image.
type Access struct {
	Time      time.Time `json:"time"`
	Tenant    string    `json:"tenant"`
	User      string    `json:"user"`
	Operation string    `json:"operation"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Decision  string    `json:"decision"`
	// DryRun marks a denial forwarded anyway (policy.dry_run).
	DryRun    bool     `json:"dry_run,omitempty"`
	Status    int      `json:"status"`
	Code      string   `json:"code,omitempty"`
	Reasons   []string `json:"reasons,omitempty"`
	RequestID string   `json:"request_id,omitempty"`
}

// Report accumulates events. Feed it with Read, then take the Summary.
type Report struct {
	opts      Options
	sum       Summary
	revisions tally
	byTenant  tally
	byOp      tally
	byCode    tally
	byReason  tally
	tenants   talkers
	users     talkers
	clients   talkers
	callers   map[[2]string]*Caller
}

// New starts an empty report.
func New(o Options) *Report {
	if o.MaxAccesses <= 0 {
		o.MaxAccesses = 1000
	}
	r := &Report{
		opts:      o,
		revisions: tally{}, byTenant: tally{}, byOp: tally{}, byCode: tally{}, byReason: tally{},
		tenants: talkers{}, users: talkers{}, clients: talkers{},
	}
	if o.Image != "" {
		r.sum.Image = &ImageReport{ID: o.Image, Accesses: []Access{}}
		r.callers = map[[2]string]*Caller{}
	}
	return r
}

// Read adds the events of one log, named name in the report. A gzip-compressed log is
// read as such. Only an error reading the stream is returned; bad lines are counted.
func (r *Report) Read(name string, in io.Reader) error {
	r.sum.Files = append(r.sum.Files, name)
	br := bufio.NewReaderSize(in, 64<<10)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	var line []byte
	lineNo := 0
	tooLong := false
	for {
		chunk, isPrefix, err := br.ReadLine()
		if len(chunk) > 0 || (err == nil && !isPrefix) {
			if !tooLong {
				if len(line)+len(chunk) > MaxLineBytes {
					tooLong, line = true, line[:0]
				} else {
					line = append(line, chunk...)
				}
			}
			if !isPrefix {
				lineNo++
				switch {
				case tooLong:
					r.sum.Lines++
					r.malformed(name, lineNo, fmt.Sprintf("line longer than %d bytes", MaxLineBytes))
				default:
					r.line(name, lineNo, line)
				}
				line, tooLong = line[:0], false
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
}

// line handles one line of a log.
func (r *Report) line(name string, lineNo int, line []byte) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	r.sum.Lines++
	var ev audit.Event
	if err := json.Unmarshal(line, &ev); err != nil {
		r.malformed(name, lineNo, "not JSON: "+err.Error())
		return
	}
	if ev.DecisionID == "" || ev.Timestamp.IsZero() {
		r.malformed(name, lineNo, "not a decision event (no decision_id or timestamp)")
		return
	}
	r.Add(&ev)
}

func (r *Report) malformed(name string, lineNo int, why string) {
	r.sum.Malformed++
	if len(r.sum.MalformedExamples) < maxMalformedExamples {
		r.sum.MalformedExamples = append(r.sum.MalformedExamples, fmt.Sprintf("%s:%d: %s", name, lineNo, why))
	}
}

// Classify says how an event counts: allow, deny or error.
func Classify(ev *audit.Event) string {
	res := ev.Result
	switch {
	case res.Allow:
		return DecisionAllow
	case res.DryRun:
		return DecisionDeny
	case res.Code != "" && res.Status >= 500:
		return DecisionError
	case res.Code == "" && ev.UpstreamStatus != 0:
		// Forwarded: the policy allowed, the upstream answered an error of its own.
		return DecisionAllow
	case res.Status >= 500:
		return DecisionError
	}
	return DecisionDeny
}

// Add counts one event.
func (r *Report) Add(ev *audit.Event) {
	s := &r.sum
	s.Events++
	ts := ev.Timestamp.UTC()
	if s.From == nil || ts.Before(*s.From) {
		s.From = &ts
	}
	if s.To == nil || ts.After(*s.To) {
		s.To = &ts
	}
	decision := Classify(ev)
	s.Totals.Requests++
	switch decision {
	case DecisionAllow:
		s.Totals.Allow++
	case DecisionDeny:
		s.Totals.Deny++
	case DecisionError:
		s.Totals.Error++
	}
	if ev.Result.DryRun {
		s.Totals.DryRun++
	}
	if sh := ev.Shadow; sh != nil && (sh.Allow != ev.Result.Allow || (!sh.Allow && sh.Status != ev.Result.Status)) {
		s.Totals.ShadowDiffer++
	}
	revision := ev.Revision
	if revision == "" {
		revision = NoValue
	}
	r.revisions.add(revision)

	tenant, user := NoValue, NoValue
	if p := ev.Input.Principal; p != nil {
		tenant, user = orNone(p.Tenant), orNone(p.User)
	}
	operation := orNone(ev.Input.Operation)
	r.tenants.add(tenant, decision)
	r.users.add(user+" ("+tenant+")", decision)
	r.clients.add(clientHost(ev.Input.RemoteAddr), decision)

	if decision == DecisionDeny {
		r.byTenant.add(tenant)
		r.byOp.add(operation)
		r.byCode.add(orNone(ev.Result.Code))
		for _, reason := range ev.Result.Reasons {
			r.byReason.add(reason)
		}
	}

	if img := s.Image; img != nil && ev.Input.Params["image_id"] == img.ID {
		if len(img.Accesses) < r.opts.MaxAccesses {
			img.Accesses = append(img.Accesses, Access{
				Time: ts, Tenant: tenant, User: user, Operation: operation,
				Method: ev.Input.Method, Path: ev.Input.Path, Decision: decision, DryRun: ev.Result.DryRun,
				Status: ev.Result.Status, Code: ev.Result.Code, Reasons: ev.Result.Reasons, RequestID: ev.RequestID,
			})
		} else {
			img.Omitted++
		}
		k := [2]string{tenant, user}
		c := r.callers[k]
		if c == nil {
			if len(r.callers) >= maxKeys {
				k = [2]string{OtherKey, OtherKey}
				c = r.callers[k]
			}
			if c == nil {
				c = &Caller{Tenant: k[0], User: k[1], First: ts, Last: ts}
				r.callers[k] = c
			}
		}
		if ts.Before(c.First) {
			c.First = ts
		}
		if ts.After(c.Last) {
			c.Last = ts
		}
		switch decision {
		case DecisionAllow:
			c.Allow++
		case DecisionDeny:
			c.Deny++
		case DecisionError:
			c.Error++
		}
	}
}

// Summary returns the report so far, its lists ranked and cut to Options.Top.
func (r *Report) Summary() Summary {
	s := r.sum
	s.Files = append([]string(nil), s.Files...)
	s.Revisions = r.revisions.ranked(0)
	s.DenialsByTenant = r.byTenant.ranked(r.opts.Top)
	s.DenialsByOperation = r.byOp.ranked(r.opts.Top)
	s.DenialsByCode = r.byCode.ranked(r.opts.Top)
	s.DenialsByReason = r.byReason.ranked(r.opts.Top)
	s.TopTenants = r.tenants.ranked(r.opts.Top)
	s.TopUsers = r.users.ranked(r.opts.Top)
	s.TopClients = r.clients.ranked(r.opts.Top)
	if r.sum.Image != nil {
		img := *r.sum.Image
		img.Accesses = append([]Access{}, img.Accesses...)
		img.Callers = make([]Caller, 0, len(r.callers))
		for _, c := range r.callers {
			img.Callers = append(img.Callers, *c)
		}
		sort.Slice(img.Callers, func(i, j int) bool {
			a, b := img.Callers[i], img.Callers[j]
			if na, nb := a.Allow+a.Deny+a.Error, b.Allow+b.Deny+b.Error; na != nb {
				return na > nb
			}
			if a.Tenant != b.Tenant {
				return a.Tenant < b.Tenant
			}
			return a.User < b.User
		})
		s.Image = &img
	}
	return s
}

// tally counts keys, at most maxKeys of them.
type tally map[string]int

func (t tally) add(key string) {
	if _, ok := t[key]; !ok && len(t) >= maxKeys {
		key = OtherKey
	}
	t[key]++
}

func (t tally) ranked(top int) []Count {
	out := make([]Count, 0, len(t))
	for k, n := range t {
		out = append(out, Count{Key: k, Count: n})
	}
	return rank(out, top, func(c Count) (int, string) { return c.Count, c.Key })
}

// rank sorts out by count, most first, then key, and keeps the top (all when top ≤ 0).
func rank[T any](out []T, top int, by func(T) (count int, key string)) []T {
	sort.Slice(out, func(i, j int) bool {
		ni, ki := by(out[i])
		nj, kj := by(out[j])
		if ni != nj {
			return ni > nj
		}
		return ki < kj
	})
	if top > 0 && len(out) > top {
		out = out[:top]
	}
	return out
}

// talkers counts requests by caller and decision, at most maxKeys callers.
type talkers map[string]*Talker

func (t talkers) add(key, decision string) {
	c := t[key]
	if c == nil {
		if len(t) >= maxKeys {
			key = OtherKey
			c = t[key]
		}
		if c == nil {
			c = &Talker{Key: key}
			t[key] = c
		}
	}
	c.Requests++
	switch decision {
	case DecisionAllow:
		c.Allow++
	case DecisionDeny:
		c.Deny++
	case DecisionError:
		c.Error++
	}
}

func (t talkers) ranked(top int) []Talker {
	out := make([]Talker, 0, len(t))
	for _, c := range t {
		out = append(out, *c)
	}
	return rank(out, top, func(c Talker) (int, string) { return c.Requests, c.Key })
}

// clientHost is the address of the client without its port.
func clientHost(addr string) string {
	if addr == "" {
		return NoValue
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

func orNone(s string) string {
	if s == "" {
		return NoValue
	}
	return s
}
