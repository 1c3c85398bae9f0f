package policies_test

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/imagegate/imagegate/policies"
)

// parseAll parses every embedded module, tests included when withTests is set.
func parseAll(t testing.TB, withTests bool) map[string]*ast.Module {
	t.Helper()
	names, err := fs.Glob(policies.FS(), "*.rego")
	if err != nil {
		t.Fatal(err)
	}
	modules := make(map[string]*ast.Module, len(names))
	for _, name := range names {
		if !withTests && policies.IsTest(name) {
			continue
		}
		src, err := fs.ReadFile(policies.FS(), name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
		if err != nil {
			t.Fatal(err)
		}
		modules[name] = m
	}
	return modules
}

func dataStore(t testing.TB) storage.Store {
	t.Helper()
	data, err := policies.Data()
	if err != nil {
		t.Fatal(err)
	}
	return inmem.NewFromObjectWithOpts(data, inmem.OptReturnASTValuesOnRead(true))
}

// TestRego runs every Rego test (*_test.rego) with coverage, reports each failing test
// and test case by name, and requires every line of the production policies to be
// covered.
func TestRego(t *testing.T) {
	ctx := context.Background()
	modules := parseAll(t, true)
	cov := cover.New()
	ch, err := tester.NewRunner().
		// Table tests evaluate hundreds of decisions with coverage tracing; OPA's default
		// of 5 s per test is too tight on a loaded two-core CI machine.
		SetTimeout(time.Minute).
		SetStore(dataStore(t)).
		SetCoverageQueryTracer(cov).
		RaiseBuiltinErrors(true).
		SetModules(modules).
		RunTests(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var passed, failed, cases int
	for r := range ch {
		for _, sr := range r.SubResults.Iter {
			if len(sr.SubResults) == 0 {
				cases++
			}
		}
		if r.Pass() {
			passed++
			continue
		}
		failed++
		var msg strings.Builder
		fmt.Fprintf(&msg, "%s.%s (%s): ", r.Package, r.Name, r.Location)
		switch {
		case r.Error != nil:
			fmt.Fprintf(&msg, "error: %v", r.Error)
		case r.Skip:
			msg.WriteString("skipped")
		default:
			msg.WriteString("FAIL")
			for name, sr := range r.SubResults.Iter {
				if sr.Fail && len(sr.SubResults) == 0 {
					fmt.Fprintf(&msg, "\n    case %s: FAIL", strings.Join(name, " / "))
				}
			}
		}
		t.Error(msg.String())
	}
	t.Logf("rego tests: %d passed, %d failed (%d table cases)", passed, failed, cases)
	if passed+failed == 0 {
		t.Fatal("no Rego tests found")
	}

	production := parseAll(t, false)
	report := cov.Report(production)
	files := make([]string, 0, len(production))
	for name := range production {
		files = append(files, name)
	}
	sort.Strings(files)
	var covered, notCovered int
	for _, name := range files {
		fr := report.Files[name]
		if fr == nil {
			t.Errorf("coverage: %s: no report", name)
			continue
		}
		covered += fr.CoveredLines
		notCovered += fr.NotCoveredLines
		t.Logf("coverage: %-16s %6.2f%% (%d lines covered)", name, fr.Coverage, fr.CoveredLines)
		if len(fr.NotCovered) > 0 {
			rows := make([]string, 0, len(fr.NotCovered))
			for _, rng := range fr.NotCovered {
				if rng.Start.Row == rng.End.Row {
					rows = append(rows, fmt.Sprint(rng.Start.Row))
				} else {
					rows = append(rows, fmt.Sprintf("%d-%d", rng.Start.Row, rng.End.Row))
				}
			}
			t.Errorf("coverage: %s: lines not covered by any test: %s", name, strings.Join(rows, ", "))
		}
	}
	if total := covered + notCovered; total > 0 {
		t.Logf("coverage: production policies %.2f%% (%d of %d lines)", 100*float64(covered)/float64(total), covered, total)
	}
}

// TestModulesLeaveOutTests checks that the production module set compiles on its own and
// holds no test module.
func TestModulesLeaveOutTests(t *testing.T) {
	mods, err := policies.Modules()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"decision.rego", "gcore.rego", "images.rego", "members.rego", "reseller.rego", "roles.rego", "visibility.rego"}
	got := make([]string, 0, len(mods))
	for name := range mods {
		got = append(got, name)
	}
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("Modules() = %v, want %v", got, want)
	}
	opts := make([]func(*rego.Rego), 0, len(mods)+2)
	for name, src := range mods {
		opts = append(opts, rego.Module(name, src))
	}
	opts = append(opts, rego.Query("data.imagegate.decision"), rego.Store(dataStore(t)))
	if _, err := rego.New(opts...).PrepareForEval(context.Background()); err != nil {
		t.Fatalf("production policies do not compile without the tests: %v", err)
	}
}

// TestDataShape checks the data document the role tables live in.
func TestDataShape(t *testing.T) {
	data, err := policies.Data()
	if err != nil {
		t.Fatal(err)
	}
	rbac, ok := data["imagegate"].(map[string]any)["rbac"].(map[string]any)
	if !ok {
		t.Fatalf("data.json has no imagegate.rbac object")
	}
	for _, key := range []string{"permissions", "roles", "cloud_admin"} {
		if _, ok := rbac[key].(map[string]any); !ok {
			t.Errorf("data.imagegate.rbac.%s is %T, want an object", key, rbac[key])
		}
	}
}

// prepare compiles the production policies once for query.
func prepare(b testing.TB, query string) rego.PreparedEvalQuery {
	b.Helper()
	mods, err := policies.Modules()
	if err != nil {
		b.Fatal(err)
	}
	opts := []func(*rego.Rego){rego.Query(query), rego.Store(dataStore(b))}
	for name, src := range mods {
		opts = append(opts, rego.Module(name, src))
	}
	pq, err := rego.New(opts...).PrepareForEval(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return pq
}

// getInput is a typical images.get: a member of a shared image reads it.
func getInput() map[string]any {
	return map[string]any{
		"version": 1,
		"operation": map[string]any{"dialect": "glance", "name": "images.get",
			"params": map[string]any{"image_id": "a96b1b44-5f2b-4f0e-9d1c-1b3d2a0e8c11"}, "deprecated": false},
		"request": map[string]any{"method": "GET", "path": "/v2/images/a96b1b44-5f2b-4f0e-9d1c-1b3d2a0e8c11",
			"query": map[string]any{}, "body": nil, "patch": nil},
		"principal": map[string]any{"user": "u-1", "tenant": "123456", "roles": []any{"member", "reader"},
			"reseller": "", "issuer": "https://idp.example", "claims": map[string]any{"sub": "u-1"}},
		"resource": map[string]any{
			"image": map[string]any{"id": "a96b1b44-5f2b-4f0e-9d1c-1b3d2a0e8c11", "owner": "654321",
				"visibility": "shared", "status": "active", "protected": false},
			"membership": map[string]any{"member_id": "123456", "status": "accepted"},
		},
		"config": map[string]any{"dialect": "glance", "upstream_mode": "delegated"},
		"items":  nil,
	}
}

// listInput is an images.list page of n items of every visibility.
func listInput(n int) map[string]any {
	in := getInput()
	in["operation"] = map[string]any{"dialect": "glance", "name": "images.list", "params": map[string]any{}, "deprecated": false}
	in["resource"] = map[string]any{"image": nil, "membership": nil}
	items := make([]any, n)
	for i := range items {
		item := map[string]any{"id": fmt.Sprintf("img-%04d", i), "owner": "654321", "member_status": nil}
		switch i % 6 {
		case 0:
			item["owner"], item["visibility"] = "123456", "private"
		case 1:
			item["visibility"] = "public"
		case 2:
			item["visibility"] = "community"
		case 3:
			item["visibility"], item["member_status"] = "shared", "accepted"
		case 4:
			item["visibility"], item["member_status"] = "shared", "pending"
		default:
			item["visibility"] = "private"
		}
		items[i] = item
	}
	in["items"] = items
	return in
}

func TestBenchmarkInputs(t *testing.T) {
	ctx := context.Background()
	rs, err := prepare(t, "data.imagegate.decision").Eval(ctx, rego.EvalInput(getInput()))
	if err != nil {
		t.Fatal(err)
	}
	if d := rs[0].Expressions[0].Value.(map[string]any); d["allow"] != true || d["filter"] != "image" {
		t.Fatalf("decision for the benchmark's images.get = %v, want allowed with filter image", d)
	}
	rs, err = prepare(t, "data.imagegate.visible_ids").Eval(ctx, rego.EvalInput(listInput(1000)))
	if err != nil {
		t.Fatal(err)
	}
	// Of every 6 items: own private, public, accepted shared (community and pending shared
	// are not in the default list, another's private never is).
	want := 0
	for i := range 1000 {
		if m := i % 6; m == 0 || m == 1 || m == 3 {
			want++
		}
	}
	if got := len(rs[0].Expressions[0].Value.([]any)); got != want {
		t.Fatalf("visible_ids of the benchmark's page holds %d ids, want %d", got, want)
	}
}

func benchmarkQuery(b *testing.B, query string, in map[string]any) {
	ctx := context.Background()
	pq := prepare(b, query)
	parsed, err := ast.InterfaceToValue(in)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("EvalParsedInput", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := pq.Eval(ctx, rego.EvalParsedInput(parsed)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("EvalInput", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := pq.Eval(ctx, rego.EvalInput(in)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecision measures data.imagegate.decision for a typical images.get.
// Target: under 50 µs.
func BenchmarkDecision(b *testing.B) {
	benchmarkQuery(b, "data.imagegate.decision", getInput())
}

// BenchmarkVisibleIDs1000 measures data.imagegate.visible_ids over a 1,000-item page.
// Target: under 5 ms.
func BenchmarkVisibleIDs1000(b *testing.B) {
	benchmarkQuery(b, "data.imagegate.visible_ids", listInput(1000))
}
