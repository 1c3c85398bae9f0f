package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/imageapi"
	"github.com/imagegate/imagegate/route"
	"github.com/imagegate/imagegate/tests/testenv"
)

// The Gcore-style v1 dialect through the proxy, in service mode: the in-memory v1 API is
// naive (it lists every image of the region and lets anyone change anything), so every
// project boundary, reseller limit and read-only item below is enforced by the proxy.
//
// The world is imageapi.GcoreDemoFixture: reseller Blue (1001) limits its clients to
// ubuntu and debian in region 1 (no limit, null, in region 2) and shares blue-golden with
// them; reseller Green (2002) limits its client to windows and alpine in region 1.

type gcorePersona struct {
	project, client, reseller string
	roles                     []string
}

var (
	blueA      = gcorePersona{imageapi.GcoreProjectBlueA, "11", imageapi.GcoreResellerBlue, []string{"member"}}
	blueB      = gcorePersona{imageapi.GcoreProjectBlueB, "12", imageapi.GcoreResellerBlue, []string{"client_admin"}}
	blueAdmin  = gcorePersona{imageapi.GcoreProjectBlueA, "11", imageapi.GcoreResellerBlue, []string{"reseller_admin"}}
	green      = gcorePersona{imageapi.GcoreProjectGreen, "21", imageapi.GcoreResellerGreen, []string{"member"}}
	indie      = gcorePersona{imageapi.GcoreProjectIndie, "31", "", []string{"reader"}}
	cloudAdmin = gcorePersona{imageapi.GcoreProjectAdmin, "1", "", []string{"admin"}}
)

func gcoreEnv(t *testing.T) *testenv.Env {
	t.Helper()
	return testenv.Start(t, testenv.Options{Dialect: config.DialectGcore, Mode: config.ModeService})
}

func (p gcorePersona) token(t *testing.T, e *testenv.Env) string {
	t.Helper()
	claims := jwt.MapClaims{"project_id": p.project, "client_id": p.client, "roles": p.roles, "sub": "user-" + p.project}
	if p.reseller != "" {
		claims["reseller_id"] = p.reseller
	}
	return e.TokenWith(t, claims)
}

type v1Page struct {
	Count   int `json:"count"`
	Results []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"results"`
}

// names lists a v1 page's image names, sorted, and checks that count matches them.
func names(t *testing.T, body []byte) []string {
	t.Helper()
	var page v1Page
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("not a v1 page: %s", body)
	}
	var out []string
	for _, r := range page.Results {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	if page.Count != len(out) {
		t.Errorf("count %d for %d results", page.Count, len(out))
	}
	return out
}

func jsonBody(s string) *strings.Reader { return strings.NewReader(s) }

// send makes one request, with body as a JSON document when it is not empty.
func send(t *testing.T, e *testenv.Env, method, path, token, body string) (*http.Response, []byte) {
	t.Helper()
	if body == "" {
		return e.Request(t, method, path, token, nil)
	}
	return e.Request(t, method, path, token, jsonBody(body), "Content-Type", ctJSON)
}

const ctJSON = "application/json"

func TestGcoreResellerCatalogues(t *testing.T) {
	e := gcoreEnv(t)
	allPublic := []string{"alpine-3.20", "centos-stream-9", "debian-12", "fedora-40", "ubuntu-24.04", "windows-server-2022"}
	for _, tt := range []struct {
		name string
		who  gcorePersona
		path string
		want []string
	}{
		{"Blue's client: the limit list, the shared image, its own", blueA, "/v1/images/111/1", []string{"blue-golden", "debian-12", "ubuntu-24.04"}},
		{"Blue's other client: the same public images and the shared one", blueB, "/v1/images/121/1", []string{"blue-app", "blue-golden", "debian-12", "ubuntu-24.04"}},
		{"Blue's client in region 2, where the limit is null", blueA, "/v1/images/111/2", []string{"ubuntu-24.04"}},
		{"Green's client: its own limit list", green, "/v1/images/211/1", []string{"alpine-3.20", "green-web", "windows-server-2022"}},
		{"a client of no reseller: every public image", indie, "/v1/images/311/1", append(slices.Clone(allPublic), "indie")},
		{"project images: its own only", blueA, "/v1/projectimages/111/1", []string{"blue-golden"}},
		{"the /cloud prefix", blueA, "/cloud/v1/images/111/1", []string{"blue-golden", "debian-12", "ubuntu-24.04"}},
		{"a cloud admin: everything", cloudAdmin, "/v1/images/111/1", append(slices.Clone(allPublic), "blue-app", "blue-golden", "green-web", "indie")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.Request(t, "GET", tt.path, tt.who.token(t, e), nil)
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if got := names(t, body); !slices.Equal(got, tt.want) {
				sorted := slices.Clone(tt.want)
				slices.Sort(sorted)
				if !slices.Equal(got, sorted) {
					t.Fatalf("sees %v, want %v", got, sorted)
				}
			}
		})
	}
}

func TestGcoreLimitChangesThroughTheProxy(t *testing.T) {
	e := gcoreEnv(t)
	admin := cloudAdmin.token(t, e)
	list := func() []string {
		resp, body := e.Request(t, "GET", "/v1/images/111/1", blueA.token(t, e), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		return names(t, body)
	}
	set := func(imageIDs string) {
		t.Helper()
		resp, body := e.Request(t, "PUT", "/v1/reseller_image", admin,
			jsonBody(`{"reseller_id": 1001, "region_id": 1, "image_ids": `+imageIDs+`}`), "Content-Type", ctJSON)
		if resp.StatusCode != 200 || resp.Header.Get("Deprecation") != "true" {
			t.Fatalf("set %s: %d %s (Deprecation %q)", imageIDs, resp.StatusCode, body, resp.Header.Get("Deprecation"))
		}
	}
	// The cache of limits is refreshed by the write that passed through: no waiting.
	set(`[]`)
	if got := list(); !slices.Equal(got, []string{"blue-golden"}) {
		t.Fatalf("limit []: %v", got)
	}
	set(`["` + imageapi.GcoreImageFedora + `"]`)
	if got := list(); !slices.Equal(got, []string{"blue-golden", "fedora-40"}) {
		t.Fatalf("limit [fedora]: %v", got)
	}
	set(`null`)
	if got := list(); len(got) != 7 {
		t.Fatalf("limit null: %v", got)
	}
	set(`[]`)
	resp, body := e.Request(t, "DELETE", "/v1/reseller_image/1001?region_id=1", admin, nil)
	if resp.StatusCode != 204 {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	if got := list(); len(got) != 7 {
		t.Fatalf("no entry: %v", got)
	}
}

func TestGcoreSharedImages(t *testing.T) {
	e := gcoreEnv(t)
	admin := cloudAdmin.token(t, e)
	get := func(who gcorePersona, id string) int {
		resp, _ := e.Request(t, "GET", "/v1/images/"+who.project+"/1/"+id, who.token(t, e), nil)
		return resp.StatusCode
	}
	share := func(kind, id, image string) {
		t.Helper()
		resp, body := e.Request(t, "PUT", "/v1/shared_image", admin,
			jsonBody(`{"entity_type":"`+kind+`","entity_id":`+id+`,"region_id":1,"image_ids":["`+image+`"]}`), "Content-Type", ctJSON)
		if resp.StatusCode != 200 {
			t.Fatalf("share: %d %s", resp.StatusCode, body)
		}
	}
	if got := get(blueB, imageapi.GcoreImageBlueGolden); got != 200 {
		t.Errorf("shared with the reseller: %d", got)
	}
	if got := get(green, imageapi.GcoreImageBlueApp); got != 404 {
		t.Fatalf("before sharing: %d", got)
	}
	share("client", "21", imageapi.GcoreImageBlueApp)
	if got := get(green, imageapi.GcoreImageBlueApp); got != 200 {
		t.Errorf("shared with the client: %d", got)
	}
	share("project", imageapi.GcoreProjectIndie, imageapi.GcoreImageGreenWeb)
	if got := get(indie, imageapi.GcoreImageGreenWeb); got != 200 {
		t.Errorf("shared with the project: %d", got)
	}
	_, body := e.Request(t, "GET", "/v1/images/311/1", indie.token(t, e), nil)
	if !slices.Contains(names(t, body), "green-web") {
		t.Errorf("a shared image is listed: %v", names(t, body))
	}
	// Sharing in another region shares nothing here.
	resp, _ := e.Request(t, "DELETE", "/v1/shared_image?entity_type=reseller&entity_id=1001", admin, nil)
	if resp.StatusCode != 204 {
		t.Fatalf("unshare: %d", resp.StatusCode)
	}
	if got := get(blueB, imageapi.GcoreImageBlueGolden); got != 404 {
		t.Errorf("after unsharing: %d", got)
	}
}

// refused checks a refusal: status, a JSON error of the given type, a decision event
// with the status, and nothing forwarded to the upstream.
func refused(t *testing.T, e *testenv.Env, method, path, token, body string, status int, typ string) audit {
	t.Helper()
	before := forwarded(e)
	resp, raw := send(t, e, method, path, token, body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, raw, status)
	}
	var doc struct {
		Error struct {
			Code    int    `json:"code"`
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil || doc.Error.Code != status || doc.Error.Type != typ || doc.Error.Message == "" {
		t.Fatalf("%s %s: error body %s, want type %s", method, path, raw, typ)
	}
	ev := e.WaitEvent(t, resp.Header.Get("X-Request-Id"))
	if ev.Result.Status != status || ev.Result.Allow {
		t.Fatalf("decision event %+v", ev.Result)
	}
	if after := forwarded(e); after != before {
		t.Fatalf("%s %s reached the upstream", method, path)
	}
	return audit{deprecated: ev.Input.Deprecated, reasons: ev.Result.Reasons}
}

// forwarded counts the calls the v1 API received that are not the proxy's own lookups,
// which carry its service identity.
func forwarded(e *testenv.Env) int {
	n := 0
	for _, r := range e.Gcore.Requests() {
		if r.Header.Get("X-Project-Id") != e.Config.Upstream.ServiceIdentity.Project {
			n++
		}
	}
	return n
}

type audit struct {
	deprecated bool
	reasons    []string
}

func TestGcoreRefusals(t *testing.T) {
	e := gcoreEnv(t)
	golden := "/v1/images/111/1/" + imageapi.GcoreImageBlueGolden
	for _, tt := range []struct {
		name               string
		who                gcorePersona
		method, path, body string
		status             int
		typ                string
		deprecated         bool
	}{
		{"a client of Blue asks for an image only Green may see", blueA, "GET", "/v1/images/111/1/" + imageapi.GcoreImageWindows, "", 404, "not_found", false},
		{"and for its metadata", blueA, "GET", "/v1/images/111/1/" + imageapi.GcoreImageWindows + "/metadata", "", 404, "not_found", false},
		{"another client's private image", blueA, "GET", "/v1/images/111/1/" + imageapi.GcoreImageGreenWeb, "", 404, "not_found", false},
		{"an image of the region by another region's path", blueA, "GET", "/v1/images/111/2/" + imageapi.GcoreImageUbuntu, "", 404, "not_found", false},
		{"another project", blueA, "GET", "/v1/images/211/1", "", 403, "forbidden", false},
		{"a project id that is not a number", blueA, "GET", "/v1/images/blue/1", "", 400, "bad_request", false},
		{"metadata_kv that is not JSON", blueA, "GET", "/v1/images/111/1?metadata_kv=%7Bos", "", 400, "bad_request", false},
		{"a reseller admin sets another reseller's limits", blueAdmin, "PUT", "/v1/reseller_image", `{"reseller_id": 2002, "region_id": 1, "image_ids": []}`, 403, "forbidden", true},
		{"a reseller admin reads another reseller's limits", blueAdmin, "GET", "/v1/reseller_image/2002", "", 403, "forbidden", true},
		{"a client sets limits", blueA, "PUT", "/v1/reseller_image", `{"reseller_id": 1001, "region_id": 1, "image_ids": []}`, 403, "forbidden", true},
		{"image_ids of the wrong type", cloudAdmin, "PUT", "/v1/reseller_image", `{"reseller_id": 1001, "region_id": 1, "image_ids": "all"}`, 400, "bad_request", true},
		{"a missing region_id", cloudAdmin, "PUT", "/v1/shared_image", `{"entity_type": "client", "entity_id": 11, "image_ids": []}`, 400, "bad_request", false},
		{"an unknown entity_type", cloudAdmin, "PUT", "/v1/shared_image", `{"entity_type": "tenant", "entity_id": 11, "region_id": 1, "image_ids": []}`, 400, "bad_request", false},
		{"an unknown entity_type in a query", cloudAdmin, "GET", "/v1/shared_image?entity_type=tenant&entity_id=1", "", 400, "bad_request", false},
		{"a reseller admin shares with a client", blueAdmin, "PUT", "/v1/shared_image", `{"entity_type": "client", "entity_id": 21, "region_id": 1, "image_ids": []}`, 403, "forbidden", false},
		{"the owner deletes a read-only item", blueA, "DELETE", golden + "/metadata_item?key=billing", "", 403, "forbidden", false},
		{"the owner changes a read-only item", blueA, "POST", golden + "/metadata", `{"billing": "free"}`, 403, "forbidden", false},
		{"the owner replaces the items without it", blueA, "PUT", golden + "/metadata", `{"purpose": "x"}`, 403, "forbidden", false},
		{"a metadata key over 255 bytes", blueA, "POST", golden + "/metadata", `{"` + strings.Repeat("k", 256) + `": "v"}`, 400, "bad_request", false},
		{"a client changes a shared image it does not own", blueB, "PATCH", "/v1/images/121/1/" + imageapi.GcoreImageBlueGolden, `{"name": "mine"}`, 403, "forbidden", false},
		{"a client makes its image public", blueA, "PATCH", golden, `{"visibility": "public"}`, 403, "forbidden", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := refused(t, e, tt.method, tt.path, tt.who.token(t, e), tt.body, tt.status, tt.typ)
			if a.deprecated != tt.deprecated {
				t.Errorf("deprecated = %v in the decision event, want %v", a.deprecated, tt.deprecated)
			}
		})
	}
}

func TestGcoreAllowedChanges(t *testing.T) {
	e := gcoreEnv(t)
	golden := "/v1/images/111/1/" + imageapi.GcoreImageBlueGolden
	for _, tt := range []struct {
		name               string
		who                gcorePersona
		method, path, body string
		status             int
	}{
		{"the owner deletes a plain item", blueA, "DELETE", golden + "/metadata_item?key=purpose", "", 204},
		{"the owner replaces the items keeping the read-only one", blueA, "PUT", golden + "/metadata", `{"billing": "paid", "team": "a"}`, 200},
		{"a cloud admin changes the read-only item", cloudAdmin, "POST", "/v1/images/111/1/" + imageapi.GcoreImageBlueGolden + "/metadata", `{"billing": "free"}`, 200},
		{"a reseller admin sets its own limits", blueAdmin, "PUT", "/v1/reseller_image", `{"reseller_id": 1001, "region_id": 2, "image_ids": null}`, 200},
		{"a reseller admin reads its own limits", blueAdmin, "GET", "/cloud/v1/reseller_image/1001", "", 200},
		{"the owner renames its image", blueA, "PATCH", golden, `{"name": "golden"}`, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, raw := send(t, e, tt.method, tt.path, tt.who.token(t, e), tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("%d %s", resp.StatusCode, raw)
			}
		})
	}
	img, _ := e.Gcore.Image(imageapi.GcoreImageBlueGolden)
	if img.Name != "golden" || len(img.Metadata) != 2 || img.Metadata[0].Value != "free" {
		t.Fatalf("image after the changes: %+v", img)
	}
}

// The deprecated reseller_image endpoints work, answer with a Deprecation header and are
// flagged in the decision event.
func TestGcoreDeprecatedEndpoints(t *testing.T) {
	e := gcoreEnv(t)
	resp, body := e.Request(t, "GET", "/v1/reseller_image/1001", blueAdmin.token(t, e), nil)
	if resp.StatusCode != 200 || resp.Header.Get("Deprecation") != "true" {
		t.Fatalf("%d %s, Deprecation %q", resp.StatusCode, body, resp.Header.Get("Deprecation"))
	}
	ev := e.WaitEvent(t, resp.Header.Get("X-Request-Id"))
	if !ev.Input.Deprecated || ev.Input.Operation != "reseller_image.get" || !ev.Result.Allow {
		t.Fatalf("event %+v", ev.Input)
	}
	resp, _ = e.Request(t, "GET", "/v1/shared_image?entity_type=reseller&entity_id=1001", blueAdmin.token(t, e), nil)
	if resp.StatusCode != 200 || resp.Header.Get("Deprecation") != "" {
		t.Fatalf("shared_image: %d, Deprecation %q", resp.StatusCode, resp.Header.Get("Deprecation"))
	}
}

// With reseller.source data, the same limits apply to the Glance dialect: a claim gives
// the reseller, a file the limits of the configured region.
func TestGlanceResellerLimitsFromData(t *testing.T) {
	file := filepath.Join(t.TempDir(), "limits.yaml")
	rows := "reseller_image:\n  - {reseller_id: 9, region_id: 1, image_ids: [\"" + imageapi.DemoImageDebian + "\"]}\n"
	if err := os.WriteFile(file, []byte(rows), 0o600); err != nil {
		t.Fatal(err)
	}
	e := testenv.Start(t, testenv.Options{Mode: config.ModeService, Configure: func(c *config.Config) {
		c.Reseller.File, c.Reseller.Region = file, "1"
	}})
	client := e.TokenWith(t, jwt.MapClaims{"project_id": imageapi.DemoTenantC, "roles": []string{"reader"}, "reseller_id": "9"})
	plain := e.Token(t, imageapi.DemoTenantC, "reader")
	public := func(token string) []string {
		resp, body := e.Request(t, "GET", "/v2/images?visibility=public", token, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		var page struct {
			Images []struct {
				ID string `json:"id"`
			} `json:"images"`
		}
		_ = json.Unmarshal(body, &page)
		var ids []string
		for _, img := range page.Images {
			ids = append(ids, img.ID)
		}
		return ids
	}
	if got := public(client); !slices.Equal(got, []string{imageapi.DemoImageDebian}) {
		t.Fatalf("the reseller's client sees public %v, want only debian", got)
	}
	if got := public(plain); len(got) < 2 {
		t.Fatalf("a caller of no reseller sees public %v", got)
	}
	resp, _ := e.Request(t, "GET", "/v2/images/"+imageapi.DemoImageUbuntu, client, nil)
	if resp.StatusCode != 404 {
		t.Fatalf("a public image outside the limit by id: %d", resp.StatusCode)
	}
}

// TestGcoreOperationsDocumented keeps docs/gcore.md in step with the v1 router.
func TestGcoreOperationsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/gcore.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, ri := range route.NewGcore().Operations() {
		if strings.HasPrefix(ri.Pattern, route.GcorePrefix+"/") {
			continue
		}
		row := fmt.Sprintf("| `%s` | `%s %s` | %s |", ri.Name, ri.Method, ri.Pattern, ri.Body)
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/gcore.md lacks the row\n%s", row)
		}
	}
}
