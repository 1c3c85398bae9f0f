package policy

import (
	"encoding/json"
	"testing"

	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/route"
)

// TestInputGcoreFields: the fields the gcore dialect and reseller limits add to the
// contract (docs/policy-input.md).
func TestInputGcoreFields(t *testing.T) {
	in := &Input{
		Operation: route.Operation{Dialect: "gcore", Name: "images.list", Params: map[string]string{"project_id": "7", "region_id": "1"}},
		Principal: &authn.Principal{Tenant: "7", Reseller: "1001", Client: "70", Roles: []string{}},
		Reseller:  map[string]any{"limits": map[string]any{"1001": map[string]any{"1": nil}}},
		Region:    "1",
	}
	v, err := in.Value([]Item{{ID: "a", Owner: "7", Visibility: "public", Region: "1"}, {ID: "b", Visibility: "public"}})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Principal struct{ Client, Reseller string }
		Resource  struct {
			Reseller map[string]map[string]map[string]any
		}
		Config struct{ Region string }
		Items  []map[string]any
	}
	if err := json.Unmarshal([]byte(v.String()), &doc); err != nil {
		t.Fatalf("%v: %s", err, v)
	}
	if doc.Principal.Client != "70" || doc.Principal.Reseller != "1001" || doc.Config.Region != "1" {
		t.Fatalf("input %s", v)
	}
	if entry, ok := doc.Resource.Reseller["limits"]["1001"]["1"]; !ok || entry != nil {
		t.Fatalf("limit entry %#v, want null", entry)
	}
	if doc.Items[0]["region"] != "1" {
		t.Fatalf("item %v has no region", doc.Items[0])
	}
	if _, ok := doc.Items[1]["region"]; ok {
		t.Fatalf("an item without region got one: %v", doc.Items[1])
	}
	glance, err := (&Input{Principal: &authn.Principal{}}).Value(nil)
	if err != nil {
		t.Fatal(err)
	}
	var g struct{ Resource map[string]any }
	if err := json.Unmarshal([]byte(glance.String()), &g); err != nil || g.Resource["reseller"] != nil {
		t.Fatalf("resource.reseller of a Glance input: %v (%v)", g.Resource, err)
	}
}
