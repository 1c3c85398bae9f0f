// Package metrics checks imagegate's /metrics as Prometheus tooling sees it: a scrape of
// a proxy that has served traffic passes `promtool check metrics`, and the Grafana
// dashboard in deploy/ asks only for metrics the proxy exports.
package metrics

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/imageapi"
	"github.com/imagegate/imagegate/tests/testenv"
)

// scrape starts a proxy, sends it traffic that touches every stage (authentication
// failures, refusals, allowed and hidden calls, enrichment cache misses and hits) and
// returns its /metrics.
func scrape(t *testing.T) []byte {
	t.Helper()
	env := testenv.Start(t, testenv.Options{})
	alice := env.Token(t, imageapi.DemoTenantA, "member")
	bob := env.Token(t, imageapi.DemoTenantB, "reader")
	private := "/v2/images/" + imageapi.DemoImagePrivateA
	for _, c := range []struct{ method, path, token string }{
		{"GET", "/v2/images", alice},
		{"GET", private, alice},
		{"GET", private, alice}, // a cache hit
		{"GET", private, bob},   // hidden: 404
		{"POST", "/v2/images", bob},
		{"GET", "/v2/images", ""},            // no token
		{"GET", "/v2/images", "not.a.token"}, // malformed token
		{"GET", "/v2//images", alice},        // not canonical
		{"GET", "/v2/nowhere", alice},        // no such route
		{"DELETE", "/v2/images", alice},      // method not allowed
	} {
		env.Request(t, c.method, c.path, c.token, nil)
	}
	resp, err := http.Get(env.AdminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return body
}

// promtool finds promtool, or fails the test saying how to install it: the check is part
// of the suite and is never skipped.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (%v): run tests/install-deps.sh as root, which installs Debian's prometheus package", err)
	}
	return p
}

// `promtool check metrics` reads the scrape and reports every metric it would lint:
// naming (units, _total on counters, …), help texts, label use. It must say nothing.
func TestPromtoolCheckMetrics(t *testing.T) {
	tool := promtool(t)
	body := scrape(t)
	path := filepath.Join(t.TempDir(), "metrics.txt")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(tool, "check", "metrics")
	cmd.Stdin = f
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("promtool: %v", err)
	}
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics (%v) complains about the scrape (kept in %s):\n%s", err, path, out)
	}
	for _, name := range []string{
		"imagegate_requests_total", "imagegate_request_duration_seconds", "imagegate_stage_duration_seconds",
		"imagegate_authn_failures_total", "imagegate_policy_reloads_total", "imagegate_policy_revision_info",
		"imagegate_enrich_cache_lookups_total", "imagegate_decision_log_events_total", "imagegate_in_flight_requests",
		"imagegate_rejected_requests_total",
	} {
		if !bytes.Contains(body, []byte("# TYPE "+name+" ")) {
			t.Errorf("the scrape has no %s", name)
		}
	}
}

// families returns the metric families of an exposition, by name.
func families(body []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(body), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = f[3]
		}
	}
	return out
}
