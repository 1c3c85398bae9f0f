package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/auditreport"
	"github.com/imagegate/imagegate/imageapi"
	"github.com/imagegate/imagegate/tests/testenv"
)

// runAuditCLI runs `imagegate audit args…` with stdin and returns its output and status.
func runAuditCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	var out, errOut bytes.Buffer
	status = auditCommand(args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), status
}

const testImage = "3b1f8c2e-5d7a-4f0e-9c61-0a2b4c6d8e10"

// testdata/audit/decisions.jsonl is a hand-made log in the shape the proxy writes:
// allowed, denied (policy, authentication, router), failed, dry-run and shadow events,
// with malformed lines between them.
func TestAuditGolden(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"table.txt", []string{"--image", testImage, "testdata/audit/decisions.jsonl"}},
		{"summary.json", []string{"--format", "json", "--top", "3", "--image", testImage, "testdata/audit/decisions.jsonl"}},
		{"gzip.txt", []string{"--top", "2", "testdata/audit/rotated.jsonl.gz"}},
	}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.name, filepath.Ext(c.name)), func(t *testing.T) {
			out, errOut, status := runAuditCLI(t, "", c.args...)
			if status != 0 || errOut != "" {
				t.Fatalf("exit status %d, stderr %s", status, errOut)
			}
			golden(t, filepath.Join("audit", c.name), out)
		})
	}
}

// "-" reads standard input, with the same result as the file.
func TestAuditStdin(t *testing.T) {
	raw, err := os.ReadFile("testdata/audit/decisions.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	fromFile, _, _ := runAuditCLI(t, "", "--format", "json", "testdata/audit/decisions.jsonl")
	fromStdin, errOut, status := runAuditCLI(t, string(raw), "--format", "json", "-")
	if status != 0 {
		t.Fatalf("exit status %d, stderr %s", status, errOut)
	}
	fromFile = strings.Replace(fromFile, `"testdata/audit/decisions.jsonl"`, `"-"`, 1)
	fromFile = strings.ReplaceAll(fromFile, "testdata/audit/decisions.jsonl:", "-:")
	if fromFile != fromStdin {
		t.Fatalf("stdin and file differ:\n%s\n---\n%s", fromStdin, fromFile)
	}
}

// A file that cannot be read is reported, the others are still summarised, and the exit
// status says that something was missing.
func TestAuditMissingFile(t *testing.T) {
	out, errOut, status := runAuditCLI(t, "", "--format", "json", "testdata/audit/none.jsonl", "testdata/audit/decisions.jsonl")
	if status != 1 {
		t.Fatalf("exit status %d, want 1", status)
	}
	if !strings.Contains(errOut, "testdata/audit/none.jsonl") {
		t.Errorf("stderr %q does not name the missing file", errOut)
	}
	var s auditreport.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if s.Events != 18 {
		t.Errorf("%d events summarised, want 18", s.Events)
	}
}

func TestAuditUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--format", "yaml", "x"},
		{"--top", "-1", "x"},
		{"--max-accesses", "0", "x"},
		{"--nope", "x"},
	} {
		out, errOut, status := runAuditCLI(t, "", args...)
		if status != 2 || out != "" || errOut == "" {
			t.Errorf("audit %q: status %d, stdout %q, stderr %q", args, status, out, errOut)
		}
	}
}

// The decision log of a real proxy summarises to exactly the traffic sent.
func TestAuditRealLog(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	alice := env.Token(t, imageapi.DemoTenantA, "member")
	bob := env.Token(t, imageapi.DemoTenantB, "member")
	carol := env.Token(t, imageapi.DemoTenantC, "reader")
	private := "/v2/images/" + imageapi.DemoImagePrivateA

	type call struct {
		method, path, token, body string
		status                    int
	}
	calls := []call{
		{"GET", "/v2/images", alice, "", http.StatusOK},
		{"GET", private, alice, "", http.StatusOK},
		{"GET", private, bob, "", http.StatusNotFound},
		{"GET", private, bob, "", http.StatusNotFound},
		{"POST", "/v2/images", carol, `{"name":"x"}`, http.StatusForbidden},
		{"GET", "/v2/images", "", "", http.StatusUnauthorized},
		{"GET", "/v2//images", alice, "", http.StatusBadRequest},
	}
	var ids []string
	for _, c := range calls {
		var body io.Reader
		var hdr []string
		if c.body != "" {
			body = strings.NewReader(c.body)
			hdr = []string{"Content-Type", "application/json"}
		}
		resp, _ := env.Request(t, c.method, c.path, c.token, body, hdr...)
		if resp.StatusCode != c.status {
			t.Fatalf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		ids = append(ids, resp.Header.Get("X-Request-Id"))
	}
	var log bytes.Buffer
	enc := json.NewEncoder(&log)
	for _, id := range ids {
		ev := env.WaitEvent(t, id)
		if err := enc.Encode(ev); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "decisions.jsonl")
	if err := os.WriteFile(path, log.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	out, errOut, status := runAuditCLI(t, "", "--format", "json", "--image", imageapi.DemoImagePrivateA, path)
	if status != 0 {
		t.Fatalf("exit status %d, stderr %s", status, errOut)
	}
	var s auditreport.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if s.Events != len(calls) || s.Malformed != 0 {
		t.Fatalf("events %d malformed %d, want %d and 0", s.Events, s.Malformed, len(calls))
	}
	want := auditreport.Totals{Requests: 7, Allow: 2, Deny: 5}
	if s.Totals != want {
		t.Errorf("totals %+v, want %+v", s.Totals, want)
	}
	if got := countOf(s.DenialsByTenant, imageapi.DemoTenantB); got != 2 {
		t.Errorf("denials of tenant %s: %d, want 2 (%+v)", imageapi.DemoTenantB, got, s.DenialsByTenant)
	}
	for code, n := range map[string]int{"not_found": 2, "forbidden": 1, "token_missing": 1, "bad_path": 1} {
		if got := countOf(s.DenialsByCode, code); got != n {
			t.Errorf("denials with code %s: %d, want %d (%+v)", code, got, n, s.DenialsByCode)
		}
	}
	if got := countOf(s.DenialsByOperation, "images.create"); got != 1 {
		t.Errorf("images.create denials: %d (%+v)", got, s.DenialsByOperation)
	}
	if s.Image == nil || len(s.Image.Accesses) != 3 {
		t.Fatalf("accesses to the private image: %+v", s.Image)
	}
	if a := s.Image.Accesses[0]; a.Tenant != imageapi.DemoTenantA || a.Decision != auditreport.DecisionAllow {
		t.Errorf("first access %+v, want the owner's, allowed", a)
	}
	if a := s.Image.Accesses[1]; a.Tenant != imageapi.DemoTenantB || a.Decision != auditreport.DecisionDeny || a.Status != 404 {
		t.Errorf("second access %+v, want bob's, denied 404", a)
	}
	if s.From == nil || time.Since(*s.From) > time.Minute {
		t.Errorf("period starts %v", s.From)
	}
}

func countOf(cs []auditreport.Count, key string) int {
	for _, c := range cs {
		if c.Key == key {
			return c.Count
		}
	}
	return 0
}
