package imageapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func newGcoreDemo(t *testing.T, mode Mode) *httptest.Server {
	t.Helper()
	a := NewGcore(Options{Mode: mode, Now: testClock()})
	if err := a.SeedGcore(GcoreDemoFixture()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return srv
}

// gdo sends one request and returns the status and the decoded body.
func gdo(t *testing.T, srv *httptest.Server, who identity, method, path, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, srv.URL+path, rd)
	for k, v := range who {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %s", method, path, raw)
		}
	}
	return resp.StatusCode, doc
}

func resultNames(doc map[string]any) []string {
	var names []string
	for _, r := range doc["results"].([]any) {
		names = append(names, r.(map[string]any)["name"].(string))
	}
	slices.Sort(names)
	return names
}

func TestGcoreEnforcingVisibility(t *testing.T) {
	srv := newGcoreDemo(t, Enforcing)
	blueA := as(GcoreProjectBlueA, "member")
	blueB := as(GcoreProjectBlueB, "member")
	green := as(GcoreProjectGreen, "member")
	indie := as(GcoreProjectIndie, "reader")
	lists := []struct {
		name string
		who  identity
		path string
		want []string
	}{
		{"blue client A: limit, shared, own", blueA, "/v1/images/111/1", []string{"blue-golden", "debian-12", "ubuntu-24.04"}},
		{"blue client B: limit, shared golden, own", blueB, "/v1/images/121/1", []string{"blue-app", "blue-golden", "debian-12", "ubuntu-24.04"}},
		{"green client: its limit and its own", green, "/v1/images/211/1", []string{"alpine-3.20", "green-web", "windows-server-2022"}},
		{"no reseller: every public image", indie, "/cloud/v1/images/311/1", []string{"alpine-3.20", "centos-stream-9", "debian-12", "fedora-40", "indie", "ubuntu-24.04", "windows-server-2022"}},
		{"blue in region 2: no limit", blueA, "/v1/images/111/2", []string{"ubuntu-24.04"}},
		{"project images", blueA, "/v1/projectimages/111/1", []string{"blue-golden"}},
		{"metadata filter", indie, `/v1/images/311/1?metadata_kv={"billing":"paid"}`, []string{"indie"}},
	}
	for _, tt := range lists {
		t.Run(tt.name, func(t *testing.T) {
			code, doc := gdo(t, srv, tt.who, "GET", tt.path, "")
			if code != 200 || !slices.Equal(resultNames(doc), tt.want) || int(doc["count"].(float64)) != len(tt.want) {
				t.Fatalf("%d %v, want %v", code, doc, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		name       string
		who        identity
		path, body string
		method     string
		want       int
	}{
		{"another project", blueA, "/v1/images/121/1", "", "GET", 403},
		{"a public image outside the limit", blueA, "/v1/images/111/1/" + GcoreImageWindows, "", "GET", 404},
		{"a private image of another client", blueA, "/v1/images/111/1/" + GcoreImageGreenWeb, "", "GET", 404},
		{"an image in another region", blueA, "/v1/images/111/2/" + GcoreImageUbuntu, "", "GET", 404},
		{"the shared golden image", blueB, "/v1/images/121/1/" + GcoreImageBlueGolden, "", "GET", 200},
		{"no identity", identity{}, "/v1/images/111/1", "", "GET", 401},
		{"no role", as(GcoreProjectBlueA), "/v1/images/111/1", "", "GET", 403},
		{"a project id that is no number", as("x", "admin"), "/v1/images/x/1", "", "GET", 400},
		{"bad metadata_kv", indie, "/v1/images/311/1?metadata_kv=x", "", "GET", 400},
		{"a reader changes nothing", indie, "/v1/images/311/1/" + GcoreImageIndie, `{"name":"x"}`, "PATCH", 403},
		{"the owner renames", blueA, "/v1/images/111/1/" + GcoreImageBlueGolden, `{"name":"golden"}`, "PATCH", 200},
		{"a client may not make it public", blueA, "/v1/images/111/1/" + GcoreImageBlueGolden, `{"visibility":"public"}`, "PATCH", 403},
		{"another's image through sharing: no change", blueB, "/v1/images/121/1/" + GcoreImageBlueGolden, `{"name":"x"}`, "PATCH", 403},
		{"a read-only item", blueA, "/v1/images/111/1/" + GcoreImageBlueGolden + "/metadata_item?key=billing", "", "DELETE", 403},
		{"a plain item", blueA, "/v1/images/111/1/" + GcoreImageBlueGolden + "/metadata_item?key=purpose", "", "DELETE", 204},
		{"a replace dropping a read-only item", blueA, "/v1/images/111/1/" + GcoreImageBlueGolden + "/metadata", `{"a":"b"}`, "PUT", 403},
		{"a replace keeping it", blueA, "/v1/images/111/1/" + GcoreImageBlueGolden + "/metadata", `{"billing":"paid","a":"b"}`, "PUT", 200},
		{"a key too long", blueA, "/v1/images/111/1/" + GcoreImageBlueGolden + "/metadata", `{"` + strings.Repeat("k", 256) + `":"v"}`, "POST", 400},
		{"a reseller admin reads its limits", as(GcoreProjectBlueA, "reseller_admin"), "/v1/reseller_image/1001", "", "GET", 200},
		{"a reseller admin may not read another's", as(GcoreProjectBlueA, "reseller_admin"), "/v1/reseller_image/2002", "", "GET", 403},
		{"a member sets no limits", blueA, "/v1/reseller_image", `{"reseller_id":1001,"region_id":1,"image_ids":[]}`, "PUT", 403},
		{"a reseller admin shares with its reseller", as(GcoreProjectBlueA, "reseller_admin"), "/v1/shared_image", `{"entity_type":"reseller","entity_id":1001,"region_id":1,"image_ids":[]}`, "PUT", 200},
		{"unknown entity type", as("1", "admin"), "/v1/shared_image?entity_type=tenant&entity_id=1", "", "GET", 400},
		{"unknown path", as("1", "admin"), "/v2/images", "", "GET", 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, doc := gdo(t, srv, tt.who, tt.method, tt.path, tt.body); code != tt.want {
				t.Fatalf("%s %s: %d %v, want %d", tt.method, tt.path, code, doc, tt.want)
			}
		})
	}
}

func TestGcoreLimitsRoundTrip(t *testing.T) {
	srv := newGcoreDemo(t, Enforcing)
	admin := as(GcoreProjectAdmin, "admin")
	code, doc := gdo(t, srv, admin, "GET", "/v1/reseller_image/1001", "")
	rows := doc["results"].([]any)
	if code != 200 || len(rows) != 2 || rows[1].(map[string]any)["image_ids"] != nil {
		t.Fatalf("%d %v", code, doc)
	}
	// Blue now allows no public image in region 1: client A keeps its own and the shared one.
	if code, _ := gdo(t, srv, admin, "PUT", "/v1/reseller_image", `{"reseller_id":1001,"region_id":1,"image_ids":[]}`); code != 200 {
		t.Fatal(code)
	}
	_, doc = gdo(t, srv, as(GcoreProjectBlueA, "member"), "GET", "/v1/images/111/1", "")
	if got := resultNames(doc); !slices.Equal(got, []string{"blue-golden"}) {
		t.Fatalf("after []: %v", got)
	}
	if code, _ := gdo(t, srv, admin, "DELETE", "/v1/reseller_image/1001?region_id=1", ""); code != 204 {
		t.Fatal(code)
	}
	_, doc = gdo(t, srv, as(GcoreProjectBlueA, "member"), "GET", "/v1/images/111/1", "")
	if len(resultNames(doc)) != 7 {
		t.Fatalf("after delete: %v", resultNames(doc))
	}
	code, doc = gdo(t, srv, admin, "GET", "/v1/shared_image?entity_type=reseller&entity_id=1001", "")
	if code != 200 || doc["count"].(float64) != 1 {
		t.Fatalf("%d %v", code, doc)
	}
	if code, _ := gdo(t, srv, admin, "DELETE", "/v1/shared_image?entity_type=reseller&entity_id=1001", ""); code != 204 {
		t.Fatal(code)
	}
	if _, doc := gdo(t, srv, as(GcoreProjectBlueB, "member"), "GET", "/v1/images/121/1/"+GcoreImageBlueGolden, ""); doc["error"] == nil {
		t.Fatalf("unshared golden image still visible: %v", doc)
	}
}

func TestGcoreNaive(t *testing.T) {
	srv := newGcoreDemo(t, Naive)
	code, doc := gdo(t, srv, identity{}, "GET", "/v1/images/111/1", "")
	if code != 200 || len(resultNames(doc)) != 10 {
		t.Fatalf("naive list: %d %v", code, resultNames(doc))
	}
	if code, _ := gdo(t, srv, identity{}, "GET", "/v1/images/111/1/"+GcoreImageGreenWeb, ""); code != 200 {
		t.Fatalf("naive get: %d", code)
	}
	if code, _ := gdo(t, srv, identity{}, "DELETE", "/v1/images/111/1/"+GcoreImageUbuntu+"/metadata_item?key=billing", ""); code != 204 {
		t.Fatalf("naive read-only delete: %d", code)
	}
	if code, _ := gdo(t, srv, identity{}, "POST", "/v1/images/111/1", `{"name":"new","volume_id":"v"}`); code != 200 {
		t.Fatalf("naive create: %d", code)
	}
	if code, _ := gdo(t, srv, identity{}, "PUT", "/v1/reseller_image", `{"reseller_id":1}`); code != 400 {
		t.Fatalf("naive bad body: %d", code)
	}
	if code, _ := gdo(t, srv, identity{}, "GET", "/", ""); code != 200 {
		t.Fatalf("root: %d", code)
	}
}

func TestSeedGcoreRefusals(t *testing.T) {
	for name, f := range map[string]GcoreFixture{
		"no region":      {Images: []GcoreImage{{ProjectID: "1", Visibility: "public"}}},
		"bad visibility": {Images: []GcoreImage{{ProjectID: "1", RegionID: "1", Visibility: "community"}}},
		"duplicate":      {Images: []GcoreImage{{ID: "a", ProjectID: "1", RegionID: "1", Visibility: "public"}, {ID: "a", ProjectID: "1", RegionID: "1", Visibility: "public"}}},
		"entity type":    {Shared: []SharedRow{{EntityType: "tenant"}}},
	} {
		if err := NewGcore(Options{}).SeedGcore(f); err == nil {
			t.Errorf("%s: seeded", name)
		}
	}
}
