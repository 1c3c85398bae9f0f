package metrics

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/metrics"
)

const dashboardPath = "../../deploy/grafana/imagegate-dashboard.json"

// dashboard is the part of a Grafana dashboard the tests read.
type dashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardPath, err)
	}
	return d
}

// exprs are the PromQL queries of the dashboard.
func (d dashboard) exprs() []string {
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	return out
}

var metricName = regexp.MustCompile(`\b(?:imagegate|go|process)_[a-z0-9_]+\b`)

// described are the metric names the proxy's registry describes, observed or not yet
// (a vector without children is absent from a scrape until its first event).
func described(t *testing.T) map[string]bool {
	t.Helper()
	reg := &describing{names: map[string]bool{}}
	metrics.New(reg)
	return reg.names
}

// describing is a Registerer that records the names of what is registered on it.
type describing struct{ names map[string]bool }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (d *describing) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		if m := fqName.FindStringSubmatch(desc.String()); m != nil {
			d.names[m[1]] = true
		}
	}
	return nil
}

func (d *describing) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = d.Register(c)
	}
}

func (d *describing) Unregister(prometheus.Collector) bool { return false }

// The dashboard is valid JSON of a usable shape, and every metric it asks for is one the
// proxy exports: present in a scrape after traffic, or described by its registry.
func TestDashboardMetricsExist(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard without uid, title or panels")
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	for _, v := range []string{"datasource", "job", "instance"} {
		if !vars[v] {
			t.Errorf("no template variable %q", v)
		}
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 || p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: no query, or not on the ${datasource} variable", p.Title)
		}
	}

	scraped := families(scrape(t))
	known := described(t)
	used := map[string]bool{}
	for _, expr := range d.exprs() {
		for _, name := range metricName.FindAllString(expr, -1) {
			used[name] = true
			base := name
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suffix); ok && scraped[b] == "histogram" {
					base = b
				}
			}
			if scraped[base] == "" && !known[base] {
				t.Errorf("the dashboard asks for %s, which imagegate does not export", name)
			}
		}
	}
	// The panels the operators were promised.
	for _, name := range []string{
		"imagegate_requests_total", "imagegate_request_duration_seconds_bucket", "imagegate_stage_duration_seconds_bucket",
		"imagegate_authn_failures_total", "imagegate_policy_reloads_total", "imagegate_decision_log_dropped_total",
		"imagegate_in_flight_requests", "imagegate_enrich_cache_lookups_total",
	} {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}

// Every query parses as PromQL: promtool checks them as recording rules, with Grafana's
// variables replaced by what Grafana would put there.
func TestDashboardQueriesParse(t *testing.T) {
	tool := promtool(t)
	d := readDashboard(t)
	r := strings.NewReplacer("$__rate_interval", "5m", "$job", ".*", "$instance", ".*")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: imagegate-dashboard\n    rules:\n")
	exprs := d.exprs()
	sort.Strings(exprs)
	for i, e := range exprs {
		q, err := json.Marshal(r.Replace(e)) // a JSON string is a YAML string
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&rules, "      - record: dashboard:query_%d\n        expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yaml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s\n%s", err, out, rules.String())
	}
}
