package policy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/route"
)

const allowReaders = `package imagegate

import rego.v1

default decision := {"allow": false, "status": 403, "reasons": ["no"]}

decision := {"allow": true, "reasons": ["reader"]} if "reader" in input.principal.roles

visible_ids contains item.id if {
	some item in input.items
	item.owner == input.principal.tenant
}
`

func engineWith(t *testing.T, files map[string]string) (*Engine, fstest.MapFS) {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	e, err := New(context.Background(), Source{Name: "test", FS: fsys})
	if err != nil {
		t.Fatal(err)
	}
	return e, fsys
}

func input(roles ...string) *Input {
	return &Input{
		Operation: route.Operation{Dialect: "glance", Name: "images.get", Params: map[string]string{"image_id": "i"}},
		Method:    "GET", Path: "/v2/images/i",
		Principal: &authn.Principal{Tenant: "t1", Roles: roles},
	}
}

func TestDecide(t *testing.T) {
	e, _ := engineWith(t, map[string]string{"p.rego": allowReaders})
	d, rev, err := e.Decide(context.Background(), input("reader"))
	if err != nil || !d.Allow || rev == "" {
		t.Fatalf("reader: %+v %q %v", d, rev, err)
	}
	d, _, err = e.Decide(context.Background(), input("nobody"))
	if err != nil || d.Allow || d.Status != 403 || d.Code != "forbidden" || d.Reasons[0] != "no" {
		t.Fatalf("nobody: %+v %v", d, err)
	}
}

func TestVisibleIDs(t *testing.T) {
	e, _ := engineWith(t, map[string]string{"p.rego": allowReaders})
	ids, err := e.VisibleIDs(context.Background(), input("reader"), []Item{
		{ID: "a", Owner: "t1", Visibility: "private"}, {ID: "b", Owner: "t2", Visibility: "private"},
	})
	if err != nil || !ids["a"] || ids["b"] || len(ids) != 1 {
		t.Fatalf("ids = %v, %v", ids, err)
	}
}

func TestReloadKeepsLastGoodPolicy(t *testing.T) {
	e, fsys := engineWith(t, map[string]string{"p.rego": allowReaders})
	before := e.Revision()
	fsys["p.rego"] = &fstest.MapFile{Data: []byte("package imagegate\n\ndecision := {")}
	if err := e.Reload(context.Background()); err == nil {
		t.Fatal("a broken policy loaded")
	}
	if e.Revision() != before {
		t.Fatal("a failed reload changed the revision")
	}
	if d, _, err := e.Decide(context.Background(), input("reader")); err != nil || !d.Allow {
		t.Fatalf("last good policy not in force: %+v %v", d, err)
	}
	fsys["p.rego"] = &fstest.MapFile{Data: []byte(strings.Replace(allowReaders, `"reader" in`, `"admin" in`, 1))}
	if err := e.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.Revision() == before {
		t.Fatal("revision unchanged after a new policy")
	}
	if d, _, err := e.Decide(context.Background(), input("reader")); err != nil || d.Allow {
		t.Fatalf("new policy not in force: %+v %v", d, err)
	}
}

func TestLoadRefusals(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"no modules":      {"data.json": `{}`},
		"no decision":     {"p.rego": "package imagegate\n\nimport rego.v1\n\nvisible_ids := set()\n"},
		"compile error":   {"p.rego": "package imagegate\n\ndecision := undefined_ref\n"},
		"bad data":        {"p.rego": allowReaders, "data.json": `{"a":`},
		"only test files": {"p_test.rego": allowReaders},
	} {
		t.Run(name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for n, b := range files {
				fsys[n] = &fstest.MapFile{Data: []byte(b)}
			}
			if _, err := New(context.Background(), Source{Name: name, FS: fsys}); err == nil {
				t.Fatal("loaded")
			}
		})
	}
}

func TestMalformedDecisionsDeny(t *testing.T) {
	for name, rule := range map[string]string{
		"boolean":        "decision := true",
		"no allow":       `decision := {"status": 200}`,
		"allow a string": `decision := {"allow": "yes"}`,
		"bad status":     `decision := {"allow": false, "status": 99}`,
		"bad filter":     `decision := {"allow": true, "filter": "everything"}`,
		"reasons string": `decision := {"allow": false, "reasons": "no"}`,
		"undefined":      `decision := x if { x := 1; false }`,
		"conflict":       "decision := {\"allow\": true} if input.method\ndecision := {\"allow\": false} if input.path",
	} {
		t.Run(name, func(t *testing.T) {
			src := "package imagegate\n\nimport rego.v1\n\n" + rule + "\n\nvisible_ids := set()\n"
			fsys := fstest.MapFS{"p.rego": &fstest.MapFile{Data: []byte(src)}}
			e, err := New(context.Background(), Source{Name: name, FS: fsys})
			if err != nil {
				return // refused at load: also fails closed
			}
			d, _, err := e.Decide(context.Background(), input("reader"))
			if err == nil {
				t.Fatalf("decided %+v", d)
			}
			if !errors.Is(err, ErrEvaluation) {
				t.Fatalf("error %v is not ErrEvaluation", err)
			}
		})
	}
}

func TestHideMeansNotFound(t *testing.T) {
	e, _ := engineWith(t, map[string]string{"p.rego": "package imagegate\n\nimport rego.v1\n\ndecision := {\"allow\": false, \"hide\": true, \"status\": 403, \"code\": \"forbidden\"}\n\nvisible_ids := set()\n"})
	d, _, err := e.Decide(context.Background(), input())
	if err != nil || d.Status != 404 || d.Code != "not_found" {
		t.Fatalf("%+v %v", d, err)
	}
}

// TestExtraData: documents from WithData join those of the files, on every reload;
// one defined twice is refused and the policy in force stays.
func TestExtraData(t *testing.T) {
	const readsData = `package imagegate

import rego.v1

decision := {"allow": data.extra.allow, "status": 403}

visible_ids := set()
`
	fsys := fstest.MapFS{
		"p.rego":    &fstest.MapFile{Data: []byte(readsData)},
		"data.json": &fstest.MapFile{Data: []byte(`{"extra": {"from_file": 1}}`)},
	}
	allow := true
	var fail error
	e, err := New(context.Background(), Source{Name: "test", FS: fsys}, WithData(func() (map[string]any, error) {
		return map[string]any{"extra": map[string]any{"allow": allow}}, fail
	}))
	if err != nil {
		t.Fatal(err)
	}
	if d, _, err := e.Decide(context.Background(), input()); err != nil || !d.Allow {
		t.Fatalf("decision = %+v, %v; want allowed by the extra data", d, err)
	}
	allow = false
	if err := e.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d, _, err := e.Decide(context.Background(), input()); err != nil || d.Allow {
		t.Fatalf("a reload did not read the extra data again: %+v %v", d, err)
	}
	fail = errors.New("reseller.file: unreadable")
	if err := e.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "unreadable") {
		t.Fatalf("reload error = %v", err)
	}
	fail = nil
	fsys["data.json"] = &fstest.MapFile{Data: []byte(`{"extra": {"allow": true}}`)}
	if err := e.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "data.extra.allow is defined twice") {
		t.Fatalf("reload error = %v, want a conflict", err)
	}
}
