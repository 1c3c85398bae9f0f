package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"
)

const publicOnly = `package imagegate

import rego.v1

default decision := {"allow": false, "status": 403, "reasons": ["not public"]}

decision := {"allow": true, "reasons": [sprintf("%s reads a public image", [input.principal.tenant])]} if {
	input.resource.image.visibility == "public"
}

visible_ids contains item.id if {
	some item in input.items
	item.visibility == "public"
}
`

func withImage(in *Input, visibility string) *Input {
	in.Image = map[string]any{"id": "i", "owner": "o", "visibility": visibility}
	return in
}

func memoSize(m *memo) (decisions, pages int) {
	for i := range m.shards {
		decisions += len(m.shards[i].decisions)
		pages += len(m.shards[i].pages)
	}
	return decisions, pages
}

// An answer is reused only for the very same input: any fact that differs is evaluated.
func TestMemoReusesOnlyTheSameInput(t *testing.T) {
	e, _ := engineWith(t, map[string]string{"p.rego": publicOnly})
	if e.current.Load().memo == nil {
		t.Fatal("a deterministic policy has no memo")
	}
	ctx := context.Background()
	for i, c := range []struct {
		in    *Input
		allow bool
		why   string
	}{
		{withImage(input("reader"), "public"), true, "t1 reads a public image"},
		{withImage(input("reader"), "public"), true, "t1 reads a public image"},
		{withImage(input("reader"), "private"), false, "not public"},
		{withImage(input("reader"), "public"), true, "t1 reads a public image"},
		{func() *Input { in := withImage(input("reader"), "public"); in.Principal.Tenant = "t2"; return in }(), true, "t2 reads a public image"},
		{func() *Input {
			in := withImage(input("reader"), "public")
			in.Principal.Claims = map[string]any{"exp": 1}
			return in
		}(), true, "t1 reads a public image"},
	} {
		d, _, err := e.Decide(ctx, c.in)
		if err != nil || d.Allow != c.allow || d.Reasons[0] != c.why {
			t.Fatalf("call %d: %+v %v, want allow=%v %q", i, d, err, c.allow, c.why)
		}
	}
	if n, _ := memoSize(e.current.Load().memo); n != 4 {
		t.Fatalf("memo holds %d decisions, want the 4 distinct inputs", n)
	}
	items := []Item{{ID: "a", Visibility: "public"}, {ID: "b", Visibility: "private"}}
	for range 2 {
		ids, err := e.VisibleIDs(ctx, input("reader"), items)
		if err != nil || !ids["a"] || ids["b"] {
			t.Fatalf("ids %v, %v", ids, err)
		}
	}
	items[1].Visibility = "public"
	if ids, err := e.VisibleIDs(ctx, input("reader"), items); err != nil || !ids["b"] {
		t.Fatalf("a changed item was answered from the memo: %v, %v", ids, err)
	}
}

// A reload starts with an empty memo: the new policy decides.
func TestMemoForgetsOnReload(t *testing.T) {
	e, fsys := engineWith(t, map[string]string{"p.rego": publicOnly})
	ctx := context.Background()
	in := withImage(input("reader"), "public")
	if d, _, _ := e.Decide(ctx, in); !d.Allow {
		t.Fatal("not allowed")
	}
	fsys["p.rego"] = &fstest.MapFile{Data: []byte(strings.Replace(publicOnly, `== "public"`, `== "shared"`, 1))}
	if err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := e.Decide(ctx, in); d.Allow {
		t.Fatal("the old policy's answer survived the reload")
	}
}

// A policy that reads the clock, the network or chance is evaluated every time.
func TestNoMemoForNondeterministicPolicies(t *testing.T) {
	for _, call := range []string{"time.now_ns()", `rand.intn("x", 10)`, `io.jwt.decode_verify("a.b.c", {"secret": "s"})[0]`,
		`http.send({"method": "GET", "url": "http://127.0.0.1:1"}).status_code`} {
		t.Run(call, func(t *testing.T) {
			src := fmt.Sprintf("package imagegate\n\nimport rego.v1\n\ndecision := {\"allow\": true, \"x\": x} if { x := %s }\n\nvisible_ids := set()\n", call)
			e, _ := engineWith(t, map[string]string{"p.rego": src})
			if e.current.Load().memo != nil {
				t.Fatalf("policy calling %s is memoised", call)
			}
		})
	}
	// A helper function calling the clock counts too.
	src := "package imagegate\n\nimport rego.v1\n\nnow := time.now_ns()\n\ndecision := {\"allow\": now > 0}\n\nvisible_ids := set()\n"
	if e, _ := engineWith(t, map[string]string{"p.rego": src}); e.current.Load().memo != nil {
		t.Fatal("policy reading the clock through a rule is memoised")
	}
}

// The memo stays within its bounds, and large pages are not kept.
func TestMemoIsBounded(t *testing.T) {
	e, _ := engineWith(t, map[string]string{"p.rego": publicOnly})
	ctx := context.Background()
	for i := range memoDecisions + 500 {
		in := withImage(input("reader"), "public")
		in.Principal.Tenant = fmt.Sprintf("t%d", i)
		if _, _, err := e.Decide(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	big := make([]Item, memoPageItems+1)
	for i := range big {
		big[i] = Item{ID: fmt.Sprint(i), Visibility: "public"}
	}
	if _, err := e.VisibleIDs(ctx, input("reader"), big); err != nil {
		t.Fatal(err)
	}
	d, pages := memoSize(e.current.Load().memo)
	if d > memoDecisions || pages != 0 {
		t.Fatalf("memo holds %d decisions (bound %d) and %d pages (want 0)", d, memoDecisions, pages)
	}
}

// Keys are equal for equal values, whatever the order objects were built in, and differ
// for any other value.
func TestMemoKeys(t *testing.T) {
	parse := func(s string) memoKey { return keyOf(ast.MustParseTerm(s).Value) }
	if parse(`{"a": 1, "b": [true, null, {"c": "d"}]}`) != parse(`{"b": [true, null, {"c": "d"}], "a": 1}`) {
		t.Fatal("the same object built in another order has another key")
	}
	if parse(`{"x", "y"}`) != parse(`{"y", "x"}`) {
		t.Fatal("the same set has another key")
	}
	distinct := []string{
		`{"a": "bc"}`, `{"ab": "c"}`, `{"a": 1}`, `{"a": "1"}`, `{"a": [1]}`, `{"a": {1}}`, `{"a": null}`,
		`{"a": false}`, `{"a": true}`, `{"a": {}}`, `{"a": []}`, `[["a"], "b"]`, `[["a", "b"]]`, `["a", ["b"]]`,
		`{1: "a"}`, `{"1": "a"}`, `"a\u0000b"`, `"a"`, `"ab"`,
	}
	seen := map[memoKey]string{}
	for _, s := range distinct {
		k := parse(s)
		if other, dup := seen[k]; dup {
			t.Fatalf("%s and %s have the same key", s, other)
		}
		seen[k] = s
	}
}
