package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/route"
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
	if d, _, err := e.Decide(ctx, in); err != nil || !d.Allow {
		t.Fatalf("not allowed: %+v %v", d, err)
	}
	fsys["p.rego"] = &fstest.MapFile{Data: []byte(strings.Replace(publicOnly, `== "public"`, `== "shared"`, 1))}
	if err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if d, _, err := e.Decide(ctx, in); err != nil || d.Allow {
		t.Fatalf("the old policy's answer survived the reload: %+v %v", d, err)
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

// Keys are equal for equal values, however the maps were built, and differ for any
// other value.
func TestMemoKeys(t *testing.T) {
	key := func(v any) memoKey {
		in := input("reader")
		in.Body = v
		k, ok := inputKey(in, nil)
		if !ok {
			t.Fatalf("%#v: no key", v)
		}
		return k
	}
	a := map[string]any{"a": json.Number("1"), "b": []any{true, nil, map[string]any{"c": "d"}}}
	b := map[string]any{}
	b["b"] = []any{true, nil, map[string]any{"c": "d"}}
	b["a"] = json.Number("1")
	for range 20 { // map order is random: compare many writings
		if key(a) != key(b) {
			t.Fatal("the same object built in another order has another key")
		}
	}
	distinct := []any{
		map[string]any{"a": "bc"}, map[string]any{"ab": "c"}, map[string]any{"a": json.Number("1")},
		map[string]any{"a": "1"}, map[string]any{"a": 1.0}, map[string]any{"a": []any{json.Number("1")}},
		map[string]any{"a": nil}, map[string]any{"a": false}, map[string]any{"a": true},
		map[string]any{"a": map[string]any{}}, map[string]any{"a": []any{}}, map[string]any{},
		[]any{[]any{"a"}, "b"}, []any{[]any{"a", "b"}}, []any{"a", []any{"b"}},
		map[string]any{"a": map[string]any{"b": "c"}, "d": "e"}, map[string]any{"a": map[string]any{"b": "c", "d": "e"}},
		"a\u0000b", "a", "ab", "", nil, []any{}, []string{"a"}, []any{"a"},
	}
	seen := map[memoKey]int{}
	for i, v := range distinct {
		k := key(v)
		if other, dup := seen[k]; dup {
			t.Fatalf("%#v and %#v have the same key", v, distinct[other])
		}
		seen[k] = i
	}
	in := input("reader")
	in.Body = struct{}{}
	if _, ok := inputKey(in, nil); ok {
		t.Fatal("a value of an unknown type has a key: it must be evaluated, never looked up")
	}
}

// TestInputKeyCoversInput changes each field of the input in turn: the key must change
// with it, or the memo would answer a request with another's decision. The field counts
// make adding a field to what the input holds a failing test until inputKey writes it.
func TestInputKeyCoversInput(t *testing.T) {
	for typ, n := range map[reflect.Type]int{
		reflect.TypeFor[Input]():           13,
		reflect.TypeFor[route.Operation](): 5,
		reflect.TypeFor[authn.Principal](): 8,
		reflect.TypeFor[PatchOp]():         5,
		reflect.TypeFor[Membership]():      2,
		reflect.TypeFor[Item]():            5,
	} {
		if typ.NumField() != n {
			t.Errorf("%s has %d fields, inputKey writes %d: write the new one in memokey.go and here", typ, typ.NumField(), n)
		}
	}
	base := func() (*Input, []Item) {
		in := input("reader", "member")
		in.Query = url.Values{"limit": {"5"}}
		in.Body = map[string]any{"name": "x"}
		in.Patch = []PatchOp{{Op: "replace", Path: "/name", Pointer: []string{"name"}, Value: "y", HasValue: true}}
		in.Principal.User, in.Principal.Reseller, in.Principal.Client, in.Principal.Issuer = "u", "r", "c", "iss"
		in.Principal.Claims = map[string]any{"sub": "u", "exp": json.Number("100")}
		in.Image = map[string]any{"id": "i", "owner": "o", "visibility": "shared"}
		in.Membership = &Membership{MemberID: "t1", Status: "accepted"}
		in.Reseller = map[string]any{"limits": []any{}}
		in.Dialect, in.UpstreamMode, in.Region = "glance", "delegated", "1"
		return in, []Item{{ID: "a", Owner: "o", Visibility: "shared", MemberStatus: "pending", Region: "1"}}
	}
	changes := map[string]func(in *Input, items []Item) []Item{
		"operation dialect":    func(in *Input, it []Item) []Item { in.Operation.Dialect = "gcore"; return it },
		"operation name":       func(in *Input, it []Item) []Item { in.Operation.Name = "images.delete"; return it },
		"operation params":     func(in *Input, it []Item) []Item { in.Operation.Params = map[string]string{"image_id": "j"}; return it },
		"operation params nil": func(in *Input, it []Item) []Item { in.Operation.Params = nil; return it },
		"deprecated":           func(in *Input, it []Item) []Item { in.Operation.Deprecated = true; return it },
		"body kind":            func(in *Input, it []Item) []Item { in.Operation.Body = route.BodyJSON; return it },
		"method":               func(in *Input, it []Item) []Item { in.Method = "HEAD"; return it },
		"path":                 func(in *Input, it []Item) []Item { in.Path = "/v2/images/j"; return it },
		"query value":          func(in *Input, it []Item) []Item { in.Query["limit"] = []string{"6"}; return it },
		"query key":            func(in *Input, it []Item) []Item { in.Query = url.Values{"marker": {"5"}}; return it },
		"query nil":            func(in *Input, it []Item) []Item { in.Query = nil; return it },
		"body":                 func(in *Input, it []Item) []Item { in.Body = map[string]any{"name": "y"}; return it },
		"body nil":             func(in *Input, it []Item) []Item { in.Body = nil; return it },
		"patch op":             func(in *Input, it []Item) []Item { in.Patch[0].Op = "add"; return it },
		"patch path":           func(in *Input, it []Item) []Item { in.Patch[0].Path = "/x"; return it },
		"patch pointer":        func(in *Input, it []Item) []Item { in.Patch[0].Pointer = []string{"x"}; return it },
		"patch value":          func(in *Input, it []Item) []Item { in.Patch[0].Value = "z"; return it },
		"patch has value":      func(in *Input, it []Item) []Item { in.Patch[0].HasValue = false; return it },
		"patch nil":            func(in *Input, it []Item) []Item { in.Patch = nil; return it },
		"patch empty":          func(in *Input, it []Item) []Item { in.Patch = []PatchOp{}; return it },
		"user":                 func(in *Input, it []Item) []Item { in.Principal.User = "v"; return it },
		"tenant":               func(in *Input, it []Item) []Item { in.Principal.Tenant = "t2"; return it },
		"roles":                func(in *Input, it []Item) []Item { in.Principal.Roles = []string{"member", "reader"}; return it },
		"reseller":             func(in *Input, it []Item) []Item { in.Principal.Reseller = "r2"; return it },
		"client":               func(in *Input, it []Item) []Item { in.Principal.Client = "c2"; return it },
		"issuer":               func(in *Input, it []Item) []Item { in.Principal.Issuer = "iss2"; return it },
		"claims":               func(in *Input, it []Item) []Item { in.Principal.Claims = map[string]any{"sub": "u"}; return it },
		"expiry":               func(in *Input, it []Item) []Item { in.Principal.ExpiresAt = time.Unix(5, 0); return it },
		"principal nil":        func(in *Input, it []Item) []Item { in.Principal = nil; return it },
		"image":                func(in *Input, it []Item) []Item { in.Image["visibility"] = "private"; return it },
		"image nil":            func(in *Input, it []Item) []Item { in.Image = nil; return it },
		"image empty":          func(in *Input, it []Item) []Item { in.Image = map[string]any{}; return it },
		"member id":            func(in *Input, it []Item) []Item { in.Membership.MemberID = "t2"; return it },
		"member status":        func(in *Input, it []Item) []Item { in.Membership.Status = "rejected"; return it },
		"membership nil":       func(in *Input, it []Item) []Item { in.Membership = nil; return it },
		"reseller data":        func(in *Input, it []Item) []Item { in.Reseller = map[string]any{"limits": nil}; return it },
		"reseller data nil":    func(in *Input, it []Item) []Item { in.Reseller = nil; return it },
		"dialect":              func(in *Input, it []Item) []Item { in.Dialect = "gcore"; return it },
		"upstream mode":        func(in *Input, it []Item) []Item { in.UpstreamMode = "service"; return it },
		"region":               func(in *Input, it []Item) []Item { in.Region = "2"; return it },
		"item id":              func(in *Input, it []Item) []Item { it[0].ID = "b"; return it },
		"item owner":           func(in *Input, it []Item) []Item { it[0].Owner = "p"; return it },
		"item visibility":      func(in *Input, it []Item) []Item { it[0].Visibility = "public"; return it },
		"item member status":   func(in *Input, it []Item) []Item { it[0].MemberStatus = ""; return it },
		"item region":          func(in *Input, it []Item) []Item { it[0].Region = "2"; return it },
		"items nil":            func(in *Input, it []Item) []Item { return nil },
		"items empty":          func(in *Input, it []Item) []Item { return []Item{} },
		"item added":           func(in *Input, it []Item) []Item { return append(it, Item{ID: "c"}) },
	}
	in, items := base()
	want, ok := inputKey(in, items)
	if !ok {
		t.Fatal("the base input has no key")
	}
	if again, _ := inputKey(base()); again != want {
		t.Fatal("the same input has another key")
	}
	for name, change := range changes {
		in, items := base()
		items = change(in, items)
		if got, ok := inputKey(in, items); !ok || got == want {
			t.Errorf("%s: the key did not change (ok %v)", name, ok)
		}
	}
}

// An input the key writer cannot write (a value of a type it does not know) is
// evaluated every time and never remembered: Decide and VisibleIDs still answer.
func TestMemoSkipsInputsWithoutKey(t *testing.T) {
	e, _ := engineWith(t, map[string]string{"p.rego": publicOnly})
	ctx := context.Background()
	in := withImage(input("reader"), "public")
	in.Body = struct{ Name string }{"x"}
	if _, ok := inputKey(in, nil); ok {
		t.Fatal("the input has a key")
	}
	for range 2 {
		if d, _, err := e.Decide(ctx, in); err != nil || !d.Allow {
			t.Fatalf("decision %+v %v", d, err)
		}
		if ids, err := e.VisibleIDs(ctx, in, []Item{{ID: "a", Visibility: "public"}}); err != nil || !ids["a"] {
			t.Fatalf("ids %v %v", ids, err)
		}
	}
	if d, p := memoSize(e.current.Load().memo); d != 0 || p != 0 {
		t.Fatalf("memo holds %d decisions and %d pages of inputs without a key", d, p)
	}
}
