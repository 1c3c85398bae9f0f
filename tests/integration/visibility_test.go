package integration

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/imageapi"
	"github.com/imagegate/imagegate/tests/testenv"
)

// Scenarios of DESIGN §3, one row each: given a tenant and the demo images, when it
// calls an operation, then it gets a status. Each runs in service mode, where the upstream
// enforces nothing and only the proxy stands between tenants, and in delegated mode, where
// the upstream enforces too: the caller must get the same answer in both.
//
// The demo fixture: tenant 1000 (A) owns a private, a shared (2000 accepted, 3000
// pending), a community, a protected and a public image; 2000 (B) owns a private, a
// public and a shared image (1000 rejected, 3000 accepted); 3000 (C) owns a private and a
// shared image (1000 pending).
const (
	tenantA, tenantB, tenantC = imageapi.DemoTenantA, imageapi.DemoTenantB, imageapi.DemoTenantC
	patchCT                   = "application/openstack-images-v2.1-json-patch"
)

type scenario struct {
	name    string
	tenant  string
	roles   []string
	method  string
	path    string
	body    string
	ctype   string
	status  int
	message string // a substring of the error message, when it matters
}

func visibilityScenarios() []scenario {
	member := []string{"member", "reader"}
	admin := []string{"admin"}
	img := func(id string, rest ...string) string { return "/v2/images/" + id + strings.Join(rest, "") }
	return []scenario{
		// Who sees an image by id.
		{name: "owner reads its private image", tenant: tenantA, roles: member, method: "GET", path: img(imageapi.DemoImagePrivateA), status: 200},
		{name: "another tenant's private image does not exist", tenant: tenantB, roles: member, method: "GET", path: img(imageapi.DemoImagePrivateA), status: 404},
		{name: "public image for everyone", tenant: tenantC, roles: member, method: "GET", path: img(imageapi.DemoImageDebian), status: 200},
		{name: "community image by id for everyone", tenant: tenantB, roles: member, method: "GET", path: img(imageapi.DemoImageCommunityA), status: 200},
		{name: "accepted member reads a shared image", tenant: tenantB, roles: member, method: "GET", path: img(imageapi.DemoImageSharedA), status: 200},
		{name: "pending member reads a shared image", tenant: tenantC, roles: member, method: "GET", path: img(imageapi.DemoImageSharedA), status: 200},
		{name: "rejected member still reads a shared image", tenant: tenantA, roles: member, method: "GET", path: img(imageapi.DemoImageSharedB), status: 200},
		{name: "non-member does not see a shared image", tenant: tenantB, roles: member, method: "GET", path: img(imageapi.DemoImageSharedC), status: 404},
		{name: "cloud admin reads any private image", tenant: "9999", roles: admin, method: "GET", path: img(imageapi.DemoImagePrivateB), status: 200},
		{name: "unknown image", tenant: tenantA, roles: member, method: "GET", path: img("00000000-0000-4000-8000-000000000000"), status: 404},

		// An invisible image is 404 on every path under it.
		{name: "invisible: download", tenant: tenantB, roles: member, method: "GET", path: img(imageapi.DemoImagePrivateA, "/file"), status: 404},
		{name: "invisible: members", tenant: tenantB, roles: member, method: "GET", path: img(imageapi.DemoImagePrivateA, "/members"), status: 404},
		{name: "invisible: one member", tenant: tenantB, roles: member, method: "GET", path: img(imageapi.DemoImagePrivateA, "/members/", tenantB), status: 404},
		{name: "invisible: tag", tenant: tenantB, roles: member, method: "PUT", path: img(imageapi.DemoImagePrivateA, "/tags/x"), status: 404},
		{name: "invisible: patch", tenant: tenantB, roles: member, method: "PATCH", path: img(imageapi.DemoImagePrivateA), body: `[{"op":"replace","path":"/name","value":"x"}]`, ctype: patchCT, status: 404},
		{name: "invisible: delete", tenant: tenantB, roles: member, method: "DELETE", path: img(imageapi.DemoImagePrivateA), status: 404},
		{name: "invisible: deactivate", tenant: tenantB, roles: member, method: "POST", path: img(imageapi.DemoImagePrivateA, "/actions/deactivate"), status: 404},
		{name: "invisible: upload", tenant: tenantB, roles: member, method: "PUT", path: img(imageapi.DemoImageQueuedA, "/file"), body: "data", ctype: "application/octet-stream", status: 404},
		{name: "invisible: marker is an unknown marker", tenant: tenantB, roles: member, method: "GET", path: "/v2/images?marker=" + imageapi.DemoImagePrivateA, status: 400, message: "marker"},

		// A visible image the caller may not change is 403.
		{name: "member may not patch the owner's image", tenant: tenantB, roles: member, method: "PATCH", path: img(imageapi.DemoImageSharedA), body: `[{"op":"replace","path":"/name","value":"x"}]`, ctype: patchCT, status: 403},
		{name: "member may not tag the owner's image", tenant: tenantB, roles: member, method: "PUT", path: img(imageapi.DemoImageSharedA, "/tags/x"), status: 403},
		{name: "member may not delete the owner's image", tenant: tenantB, roles: member, method: "DELETE", path: img(imageapi.DemoImageSharedA), status: 403},
		{name: "public image may not be changed by others", tenant: tenantB, roles: member, method: "DELETE", path: img(imageapi.DemoImageUbuntu), status: 403},
		{name: "protected image may not be deleted", tenant: tenantA, roles: member, method: "DELETE", path: img(imageapi.DemoImageProtectedA), status: 403},

		// PATCH documents.
		{name: "owner renames", tenant: tenantA, roles: member, method: "PATCH", path: img(imageapi.DemoImagePrivateA), body: `[{"op":"replace","path":"/name","value":"renamed"}]`, ctype: patchCT, status: 200},
		{name: "publicize needs admin", tenant: tenantA, roles: member, method: "PATCH", path: img(imageapi.DemoImageQueuedA), body: `[{"op":"replace","path":"/visibility","value":"public"}]`, ctype: patchCT, status: 403},
		{name: "cloud admin publicizes", tenant: "9999", roles: admin, method: "PATCH", path: img(imageapi.DemoImageQueuedA), body: `[{"op":"replace","path":"/visibility","value":"public"}]`, ctype: patchCT, status: 200},
		{name: "owner may not give the image away", tenant: tenantA, roles: member, method: "PATCH", path: img(imageapi.DemoImagePrivateA), body: `[{"op":"replace","path":"/owner","value":"2000"}]`, ctype: patchCT, status: 403},
		{name: "read-only status", tenant: tenantA, roles: member, method: "PATCH", path: img(imageapi.DemoImagePrivateA), body: `[{"op":"replace","path":"/status","value":"active"}]`, ctype: patchCT, status: 403},
		{name: "reserved os_glance property", tenant: tenantA, roles: member, method: "PATCH", path: img(imageapi.DemoImagePrivateA), body: `[{"op":"add","path":"/os_glance_import_task","value":"x"}]`, ctype: patchCT, status: 403},
		{name: "com.rackspace property", tenant: tenantA, roles: member, method: "PATCH", path: img(imageapi.DemoImagePrivateA), body: `[{"op":"add","path":"/com.rackspace__1__build","value":"x"}]`, ctype: patchCT, status: 403},
		{name: "locations need admin", tenant: tenantA, roles: member, method: "PATCH", path: img(imageapi.DemoImagePrivateA), body: `[{"op":"add","path":"/locations/0","value":{"url":"file:///etc/passwd"}}]`, ctype: patchCT, status: 403},
		{name: "unknown patch op", tenant: tenantA, roles: member, method: "PATCH", path: img(imageapi.DemoImagePrivateA), body: `[{"op":"move","path":"/name","value":"x"}]`, ctype: patchCT, status: 400},
		{name: "malformed patch", tenant: tenantA, roles: member, method: "PATCH", path: img(imageapi.DemoImagePrivateA), body: `{"op":"replace"}`, ctype: patchCT, status: 400},
		{name: "patch with duplicate keys", tenant: tenantA, roles: member, method: "PATCH", path: img(imageapi.DemoImagePrivateA), body: `[{"op":"replace","path":"/name","path":"/owner","value":"x"}]`, ctype: patchCT, status: 400},
		{name: "patch media type", tenant: tenantA, roles: member, method: "PATCH", path: img(imageapi.DemoImagePrivateA), body: `[{"op":"replace","path":"/name","value":"x"}]`, ctype: "application/json", status: 415},

		// Creating images.
		{name: "create for another tenant", tenant: tenantA, roles: member, method: "POST", path: "/v2/images", body: `{"name":"x","owner":"2000"}`, ctype: "application/json", status: 403},
		{name: "create public needs admin", tenant: tenantA, roles: member, method: "POST", path: "/v2/images", body: `{"name":"x","visibility":"public"}`, ctype: "application/json", status: 403},
		{name: "create own", tenant: tenantA, roles: member, method: "POST", path: "/v2/images", body: `{"name":"x","visibility":"private"}`, ctype: "application/json", status: 201},

		// Members.
		{name: "owner lists members", tenant: tenantA, roles: member, method: "GET", path: img(imageapi.DemoImageSharedA, "/members"), status: 200},
		{name: "owner shares a shared image", tenant: tenantA, roles: member, method: "POST", path: img(imageapi.DemoImageSharedA, "/members"), body: `{"member":"4000"}`, ctype: "application/json", status: 200},
		{name: "only shared images have members", tenant: tenantA, roles: member, method: "POST", path: img(imageapi.DemoImagePrivateA, "/members"), body: `{"member":"4000"}`, ctype: "application/json", status: 403},
		{name: "a member may not share further", tenant: tenantB, roles: member, method: "POST", path: img(imageapi.DemoImageSharedA, "/members"), body: `{"member":"4000"}`, ctype: "application/json", status: 404},
		{name: "member body without member", tenant: tenantA, roles: member, method: "POST", path: img(imageapi.DemoImageSharedA, "/members"), body: `{"tenant":"4000"}`, ctype: "application/json", status: 400},
		{name: "member accepts", tenant: tenantC, roles: member, method: "PUT", path: img(imageapi.DemoImageSharedA, "/members/", tenantC), body: `{"status":"accepted"}`, ctype: "application/json", status: 200},
		{name: "owner may not accept for the member", tenant: tenantA, roles: member, method: "PUT", path: img(imageapi.DemoImageSharedA, "/members/", tenantC), body: `{"status":"accepted"}`, ctype: "application/json", status: 403},
		{name: "member may not answer for another member", tenant: tenantB, roles: member, method: "PUT", path: img(imageapi.DemoImageSharedA, "/members/", tenantC), body: `{"status":"rejected"}`, ctype: "application/json", status: 404},
		{name: "unknown member status", tenant: tenantC, roles: member, method: "PUT", path: img(imageapi.DemoImageSharedA, "/members/", tenantC), body: `{"status":"maybe"}`, ctype: "application/json", status: 400},
		{name: "member reads its own membership", tenant: tenantC, roles: member, method: "GET", path: img(imageapi.DemoImageSharedA, "/members/", tenantC), status: 200},
		{name: "member may not read another's membership", tenant: tenantC, roles: member, method: "GET", path: img(imageapi.DemoImageSharedA, "/members/", tenantB), status: 404},
		{name: "owner removes a member", tenant: tenantA, roles: member, method: "DELETE", path: img(imageapi.DemoImageSharedA, "/members/", tenantC), status: 204},
		{name: "member may not remove itself", tenant: tenantB, roles: member, method: "DELETE", path: img(imageapi.DemoImageSharedA, "/members/", tenantB), status: 403},
	}
}

func TestVisibilityScenarios(t *testing.T) {
	for _, mode := range []string{"service", "delegated"} {
		t.Run(mode, func(t *testing.T) {
			for _, sc := range visibilityScenarios() {
				t.Run(sc.name, func(t *testing.T) {
					// A fresh environment per scenario: writes must not leak into the next row.
					e := testenv.Start(t, testenv.Options{Mode: mode})
					var body *strings.Reader
					header := []string{}
					if sc.ctype != "" {
						header = append(header, "Content-Type", sc.ctype)
					}
					tok := e.Token(t, sc.tenant, sc.roles...)
					if sc.body != "" {
						body = strings.NewReader(sc.body)
					}
					var resp, raw = e.Request(t, sc.method, sc.path, tok, readerOrNil(body), header...)
					if resp.StatusCode != sc.status {
						t.Fatalf("%s %s as %s: %d %s, want %d", sc.method, sc.path, sc.tenant, resp.StatusCode, raw, sc.status)
					}
					if sc.message != "" && !strings.Contains(string(raw), sc.message) {
						t.Fatalf("answer %s does not mention %q", raw, sc.message)
					}
					if resp.StatusCode >= 400 {
						var eb struct {
							Error struct {
								Code int    `json:"code"`
								Type string `json:"type"`
							} `json:"error"`
						}
						if err := json.Unmarshal(raw, &eb); err != nil || eb.Error.Code != resp.StatusCode || eb.Error.Type == "" {
							t.Fatalf("refusal is not the proxy's JSON error: %s", raw)
						}
						ev := e.WaitEvent(t, resp.Header.Get("X-Request-Id"))
						if ev.Result.Allow || ev.Result.Status != resp.StatusCode || len(ev.Result.Reasons) == 0 {
							t.Fatalf("decision event %+v", ev.Result)
						}
					}
					if resp.StatusCode == 404 && strings.Contains(string(raw), imageapi.DemoImagePrivateA) {
						t.Fatalf("a 404 names the hidden image: %s", raw)
					}
				})
			}
		})
	}
}

func readerOrNil(r *strings.Reader) interface{ Read([]byte) (int, error) } {
	if r == nil {
		return nil
	}
	return r
}

// listScenario: given a tenant and a list query, then exactly these demo images are
// listed (among the ones the scenario names) and none of those it must not see.
type listScenario struct {
	name     string
	tenant   string
	roles    []string
	query    string
	include  []string
	excluded []string
}

func TestListVisibility(t *testing.T) {
	member := []string{"member", "reader"}
	scenarios := []listScenario{
		{"owner's default list", tenantA, member, "",
			[]string{imageapi.DemoImagePrivateA, imageapi.DemoImageSharedA, imageapi.DemoImageCommunityA, imageapi.DemoImageDebian},
			[]string{imageapi.DemoImagePrivateB, imageapi.DemoImageSharedB, imageapi.DemoImageSharedC, imageapi.DemoImageCommunityB}},
		{"accepted member's default list", tenantB, member, "",
			[]string{imageapi.DemoImageSharedA, imageapi.DemoImageUbuntu, imageapi.DemoImagePrivateB},
			[]string{imageapi.DemoImagePrivateA, imageapi.DemoImageCommunityA, imageapi.DemoImageSharedC}},
		{"pending member's default list", tenantC, member, "",
			[]string{imageapi.DemoImageSharedB},
			[]string{imageapi.DemoImageSharedA, imageapi.DemoImagePrivateA}},
		{"pending filter", tenantC, member, "member_status=pending",
			[]string{imageapi.DemoImageSharedA},
			[]string{imageapi.DemoImageSharedB, imageapi.DemoImagePrivateA}},
		{"rejected filter", tenantA, member, "member_status=rejected",
			[]string{imageapi.DemoImageSharedB},
			[]string{imageapi.DemoImageSharedC, imageapi.DemoImagePrivateB}},
		{"all member statuses", tenantA, member, "member_status=all&visibility=shared",
			[]string{imageapi.DemoImageSharedB, imageapi.DemoImageSharedC, imageapi.DemoImageSharedA},
			[]string{imageapi.DemoImagePrivateB, imageapi.DemoImagePrivateC}},
		{"community on request", tenantB, member, "visibility=community",
			[]string{imageapi.DemoImageCommunityA, imageapi.DemoImageCommunityB},
			[]string{imageapi.DemoImagePrivateA, imageapi.DemoImageUbuntu}},
		{"public only", tenantC, member, "visibility=public",
			[]string{imageapi.DemoImageUbuntu, imageapi.DemoImageDebian},
			[]string{imageapi.DemoImageSharedB, imageapi.DemoImagePrivateC}},
		{"private of others never", tenantB, member, "visibility=private",
			[]string{imageapi.DemoImagePrivateB},
			[]string{imageapi.DemoImagePrivateA, imageapi.DemoImagePrivateC, imageapi.DemoImageProtectedA}},
		{"cloud admin sees every project", "9999", []string{"admin"}, "visibility=all&limit=100",
			[]string{imageapi.DemoImagePrivateA, imageapi.DemoImagePrivateB, imageapi.DemoImagePrivateC},
			nil},
	}
	for _, mode := range []string{"service", "delegated"} {
		e := testenv.Start(t, testenv.Options{Mode: mode})
		for _, sc := range scenarios {
			t.Run(mode+"/"+sc.name, func(t *testing.T) {
				ids := listAll(t, e, e.Token(t, sc.tenant, sc.roles...), sc.query)
				for _, id := range sc.include {
					if !slices.Contains(ids, id) {
						t.Errorf("%s missing from %v", id, ids)
					}
				}
				for _, id := range sc.excluded {
					if slices.Contains(ids, id) {
						t.Errorf("%s listed but must not be", id)
					}
				}
			})
		}
	}
}

// listAll follows next links with a small page size and returns every id listed, each
// checked to appear once.
func listAll(t *testing.T, e *testenv.Env, token, query string) []string {
	t.Helper()
	q, _ := url.ParseQuery(query)
	if q.Get("limit") == "" {
		q.Set("limit", "2")
	}
	path := "/v2/images?" + q.Encode()
	var ids []string
	for pages := 0; path != ""; pages++ {
		if pages > 100 {
			t.Fatal("more than 100 pages")
		}
		resp, raw := e.Request(t, "GET", path, token, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
		}
		var page struct {
			Images []struct {
				ID string `json:"id"`
			} `json:"images"`
			Next string `json:"next"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Images) == 0 && page.Next != "" {
			t.Fatalf("an empty page with a next link: %s", raw)
		}
		for _, im := range page.Images {
			if slices.Contains(ids, im.ID) {
				t.Fatalf("%s listed twice", im.ID)
			}
			ids = append(ids, im.ID)
		}
		path = page.Next
	}
	return ids
}
