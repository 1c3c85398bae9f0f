package auditreport

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/audit"
)

func event(i int, tenant string, res audit.EventResult, upstream int) audit.Event {
	return audit.Event{
		DecisionID: fmt.Sprintf("id-%d", i),
		Timestamp:  time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
		Path:       "imagegate/decision",
		Input: audit.EventInput{
			Operation: "images.get", Method: "GET", Path: "/v2/images/img", Params: map[string]string{"image_id": "img"},
			RemoteAddr: "10.0.0.1:1234",
			Principal:  &audit.EventPrincipal{User: "u-" + tenant, Tenant: tenant},
		},
		Result:         res,
		UpstreamStatus: upstream,
	}
}

// How an event counts follows what happened to the request, not only result.allow
// (which is false for a forwarded request the upstream refused).
func TestClassify(t *testing.T) {
	cases := []struct {
		name     string
		res      audit.EventResult
		upstream int
		want     string
	}{
		{"allowed and answered", audit.EventResult{Allow: true, Status: 200}, 200, DecisionAllow},
		{"allowed, upstream 404", audit.EventResult{Status: 404}, 404, DecisionAllow},
		{"allowed, upstream 500", audit.EventResult{Status: 500}, 500, DecisionAllow},
		{"policy denial", audit.EventResult{Status: 403, Code: "forbidden"}, 0, DecisionDeny},
		{"hidden", audit.EventResult{Status: 404, Code: "not_found", Hide: true}, 0, DecisionDeny},
		{"authentication", audit.EventResult{Status: 401, Code: "token_expired"}, 0, DecisionDeny},
		{"dry run", audit.EventResult{Status: 200, Code: "forbidden", DryRun: true}, 200, DecisionDeny},
		{"policy error", audit.EventResult{Status: 500, Code: "policy_error"}, 0, DecisionError},
		{"upstream timeout", audit.EventResult{Status: 504, Code: "upstream_timeout"}, 0, DecisionError},
		{"overloaded", audit.EventResult{Status: 503, Code: "overloaded"}, 0, DecisionError},
	}
	for _, c := range cases {
		ev := event(0, "p1", c.res, c.upstream)
		if got := Classify(&ev); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// A log is streamed: lines of any length are survived, the overlong ones counted as
// malformed without being kept, and the lines after them still read.
func TestReadLongAndBrokenLines(t *testing.T) {
	var log bytes.Buffer
	enc := json.NewEncoder(&log)
	_ = enc.Encode(event(1, "p1", audit.EventResult{Allow: true, Status: 200}, 200))
	log.WriteString(`{"decision_id":"big","timestamp":"2025-06-02T10:00:00Z","path":"` + strings.Repeat("x", 3*MaxLineBytes) + "\"}\n")
	_ = enc.Encode(event(2, "p2", audit.EventResult{Status: 403, Code: "forbidden", Reasons: []string{"no"}}, 0))
	log.WriteString("\r\n  \n{}\n[1,2]\n")
	_ = enc.Encode(event(3, "p2", audit.EventResult{Status: 403, Code: "forbidden", Reasons: []string{"no"}}, 0))
	log.WriteString(`{"decision_id":"cut","timestamp":"2025-06-02T10:00:0`) // no newline: a log cut mid-write

	r := New(Options{})
	if err := r.Read("log", &log); err != nil {
		t.Fatal(err)
	}
	s := r.Summary()
	if s.Events != 3 || s.Malformed != 4 || s.Lines != 7 {
		t.Fatalf("events %d malformed %d lines %d, want 3, 4, 7; %q", s.Events, s.Malformed, s.Lines, s.MalformedExamples)
	}
	if !strings.Contains(s.MalformedExamples[0], "log:2: line longer than") {
		t.Errorf("first malformed: %q", s.MalformedExamples[0])
	}
	if s.Totals.Deny != 2 || countOf(s.DenialsByTenant, "p2") != 2 || countOf(s.DenialsByReason, "no") != 2 {
		t.Errorf("summary %+v", s)
	}
}

// Gzip-compressed logs are read as such.
func TestReadGzip(t *testing.T) {
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	enc := json.NewEncoder(zw)
	for i := range 5 {
		_ = enc.Encode(event(i, "p1", audit.EventResult{Allow: true, Status: 200}, 200))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	r := New(Options{})
	if err := r.Read("z", &zipped); err != nil {
		t.Fatal(err)
	}
	if s := r.Summary(); s.Events != 5 || s.Totals.Allow != 5 {
		t.Fatalf("%+v", s)
	}
}

// Memory is bounded by maxKeys per tally and MaxAccesses, whatever the log holds: a
// flood of distinct tenants ends in (other), and accesses past the limit are counted.
func TestBounded(t *testing.T) {
	defer func(n int) { maxKeys = n }(maxKeys)
	maxKeys = 1000
	pr, pw := io.Pipe()
	n := maxKeys + 50
	go func() {
		enc := json.NewEncoder(pw)
		for i := range n {
			_ = enc.Encode(event(i, fmt.Sprintf("t%06d", i), audit.EventResult{Status: 403, Code: "forbidden"}, 0))
		}
		pw.Close()
	}()
	r := New(Options{Top: 0, Image: "img", MaxAccesses: 10})
	if err := r.Read("flood", pr); err != nil {
		t.Fatal(err)
	}
	if len(r.byTenant) != maxKeys+1 || r.byTenant[OtherKey] != 50 {
		t.Errorf("tenant tally holds %d keys, (other) %d", len(r.byTenant), r.byTenant[OtherKey])
	}
	if len(r.tenants) != maxKeys+1 || r.tenants[OtherKey].Requests != 50 {
		t.Errorf("talkers hold %d keys", len(r.tenants))
	}
	if len(r.callers) != maxKeys+1 {
		t.Errorf("image callers hold %d keys", len(r.callers))
	}
	s := r.Summary()
	if len(s.Image.Accesses) != 10 || s.Image.Omitted != n-10 {
		t.Errorf("accesses %d omitted %d", len(s.Image.Accesses), s.Image.Omitted)
	}
	if s.Events != n || s.Totals.Deny != n {
		t.Errorf("events %d deny %d, want %d", s.Events, s.Totals.Deny, n)
	}
}

// Ranked lists are ordered by count then key, so that reports are reproducible.
func TestRankingIsStable(t *testing.T) {
	r := New(Options{Top: 2})
	for i, tenant := range []string{"b", "a", "c", "a", "c"} {
		ev := event(i, tenant, audit.EventResult{Status: 403, Code: "forbidden"}, 0)
		r.Add(&ev)
	}
	got := r.Summary().DenialsByTenant
	want := []Count{{"a", 2}, {"c", 2}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%v, want %v", got, want)
	}
}

// Masked fields (audit.mask) leave holes, not errors.
func TestMaskedEvents(t *testing.T) {
	line := `{"decision_id":"x","timestamp":"2025-06-02T10:00:00Z","path":"imagegate/decision","input":{"method":"GET","path":"/v2/images","principal":{"tenant":"p1"}},"result":{"allow":true,"status":200},"upstream_status":200,"erased":["/input/principal/user","/input/remote_addr"]}` + "\n"
	r := New(Options{})
	if err := r.Read("m", strings.NewReader(line)); err != nil {
		t.Fatal(err)
	}
	s := r.Summary()
	if s.Events != 1 || s.TopUsers[0].Key != "- (p1)" || s.TopClients[0].Key != NoValue {
		t.Fatalf("%+v", s)
	}
}

func countOf(cs []Count, key string) int {
	for _, c := range cs {
		if c.Key == key {
			return c.Count
		}
	}
	return 0
}
