package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/internal/benchcpu"
	"github.com/imagegate/imagegate/policies"
	"github.com/imagegate/imagegate/route"
)

// The benchmarks of this file measure the engine as the proxy calls it: the shipped
// policies loaded by New, the input built from Go values by Input.Value, the decision
// parsed. policies/ measures the bare Rego evaluation of the same requests.

func benchEngine(b *testing.B) *Engine {
	b.Helper()
	e, err := New(context.Background(), Source{Name: "embedded", FS: policies.FS()})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// benchPrincipal is a caller as authn builds it from a typical RS256 token.
func benchPrincipal() *authn.Principal {
	return &authn.Principal{
		User: "u-1", Tenant: "123456", Roles: []string{"member", "reader"}, Issuer: "https://idp.example",
		Claims: map[string]any{
			"iss": "https://idp.example", "aud": "imagegate", "sub": "u-1", "project_id": "123456",
			"roles": []any{"member", "reader"}, "exp": json.Number("1893456000"),
			"iat": json.Number("1700000000"), "nbf": json.Number("1700000000"),
		},
		ExpiresAt: time.Unix(1893456000, 0),
	}
}

// getInput is a typical images.get: a member of a shared image reads it (the request of
// policies.BenchmarkDecision).
func getInput() *Input {
	const id = "a96b1b44-5f2b-4f0e-9d1c-1b3d2a0e8c11"
	return &Input{
		Operation: route.Operation{Dialect: "glance", Name: "images.get", Params: map[string]string{"image_id": id}},
		Method:    "GET", Path: "/v2/images/" + id, Query: url.Values{},
		Principal: benchPrincipal(),
		Image: map[string]any{"id": id, "owner": "654321", "visibility": "shared", "status": "active",
			"protected": false, "name": "app", "size": json.Number("1048576"), "tags": []any{"app"}},
		Membership: &Membership{MemberID: "123456", Status: "accepted"},
		Dialect:    "glance", UpstreamMode: "delegated",
	}
}

// BenchmarkDecide is one decision of an images.get, as the proxy asks it: evaluated
// (memo off), and answered from the memo for an input seen before.
func BenchmarkDecide(b *testing.B) {
	for _, memo := range []bool{false, true} {
		b.Run(map[bool]string{false: "evaluate", true: "memo"}[memo], func(b *testing.B) {
			e := benchEngine(b)
			if !memo {
				e.current.Load().memo = nil
			}
			in := getInput()
			ctx := context.Background()
			if d, _, err := e.Decide(ctx, in); err != nil || !d.Allow {
				b.Fatalf("decision %+v, %v", d, err)
			}
			b.ReportAllocs()
			defer benchcpu.PerOp(b)()
			for b.Loop() {
				if _, _, err := e.Decide(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInputValue is the input conversion alone.
func BenchmarkInputValue(b *testing.B) {
	in := getInput()
	b.ReportAllocs()
	defer benchcpu.PerOp(b)()
	for b.Loop() {
		if _, err := in.Value(nil); err != nil {
			b.Fatal(err)
		}
	}
}

// benchItems is a list page of n items of every visibility.
func benchItems(n int) []Item {
	items := make([]Item, n)
	for i := range items {
		it := Item{ID: fmt.Sprintf("img-%04d", i), Owner: "654321"}
		switch i % 6 {
		case 0:
			it.Owner, it.Visibility = "123456", "private"
		case 1:
			it.Visibility = "public"
		case 2:
			it.Visibility = "community"
		case 3:
			it.Visibility, it.MemberStatus = "shared", "accepted"
		case 4:
			it.Visibility, it.MemberStatus = "shared", "pending"
		default:
			it.Visibility = "private"
		}
		items[i] = it
	}
	return items
}

func benchmarkVisibleIDs(b *testing.B, n int, memo bool) {
	e := benchEngine(b)
	if !memo {
		e.current.Load().memo = nil
	}
	in := getInput()
	in.Operation = route.Operation{Dialect: "glance", Name: "images.list", Params: map[string]string{}}
	in.Path, in.Image, in.Membership = "/v2/images", nil, nil
	items := benchItems(n)
	ctx := context.Background()
	ids, err := e.VisibleIDs(ctx, in, items)
	if err != nil || len(ids) == 0 {
		b.Fatalf("visible ids %v, %v", ids, err)
	}
	b.ReportAllocs()
	defer benchcpu.PerOp(b)()
	for b.Loop() {
		if _, err := e.VisibleIDs(ctx, in, items); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVisibleIDs25 is the list filter of a default page: evaluated (memo off), and
// answered from the memo for a page seen before.
func BenchmarkVisibleIDs25(b *testing.B) {
	b.Run("evaluate", func(b *testing.B) { benchmarkVisibleIDs(b, 25, false) })
	b.Run("memo", func(b *testing.B) { benchmarkVisibleIDs(b, 25, true) })
}

// BenchmarkVisibleIDs1000 is the list filter of the largest page Glance answers (never
// memoised).
func BenchmarkVisibleIDs1000(b *testing.B) { benchmarkVisibleIDs(b, 1000, true) }
