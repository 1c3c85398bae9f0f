package integration

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/imageapi"
	"github.com/imagegate/imagegate/tests/testenv"
)

// The permission matrix of API-NOTES §A, for both role vocabularies, through the proxy in
// service mode: the upstream is naive and would do anything, so every refusal below is
// the proxy's, and every allowed call must reach the upstream.

const (
	caller = "5000" // the tenant making the calls
	other  = "6000" // another tenant, sharing an image with caller
)

// seedRow gives a row fresh images: own (shared, with data and tag t, member other
// pending), queued (own, no data), deactivated (own), foreign (other's, shared with caller).
func seedRow(t *testing.T, e *testenv.Env, n int) (own, queued, deactivated, foreign string) {
	t.Helper()
	id := func(k int) string { return fmt.Sprintf("00005000-0000-4000-8000-%06d%06d", n, k) }
	own, queued, deactivated, foreign = id(1), id(2), id(3), id(4)
	err := e.API.SeedImages(
		imageapi.SeedImage{Image: imageapi.Image{ID: own, Name: "own", Owner: caller, Visibility: "shared", Tags: []string{"t"},
			ContainerFormat: "bare", DiskFormat: "raw"}, Data: []byte("data"),
			Members: []imageapi.SeedMember{{Tenant: other, Status: "pending"}}},
		imageapi.SeedImage{Image: imageapi.Image{ID: queued, Name: "queued", Owner: caller, Visibility: "private",
			ContainerFormat: "bare", DiskFormat: "raw"}},
		imageapi.SeedImage{Image: imageapi.Image{ID: deactivated, Name: "deactivated", Owner: caller, Visibility: "private",
			Status: "deactivated"}, Data: []byte("data")},
		imageapi.SeedImage{Image: imageapi.Image{ID: foreign, Name: "foreign", Owner: other, Visibility: "shared"},
			Members: []imageapi.SeedMember{{Tenant: caller, Status: "pending"}}},
	)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	return own, queued, deactivated, foreign
}

func do(method, path, body string, header ...string) func(*testing.T, *testenv.Env, string, int) (int, string) {
	return func(t *testing.T, e *testenv.Env, token string, n int) (int, string) {
		own, queued, deactivated, foreign := seedRow(t, e, n)
		r := strings.NewReplacer("{own}", own, "{queued}", queued, "{deactivated}", deactivated,
			"{foreign}", foreign, "{caller}", caller, "{other}", other)
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(r.Replace(body))
		}
		resp, _ := e.Request(t, method, r.Replace(path), token, rd, header...)
		return resp.StatusCode, resp.Header.Get("X-Request-Id")
	}
}

const jsonCT = "Content-Type"

// matrixRows lists every operation with a request that exercises it.
func matrixRows() map[string]func(*testing.T, *testenv.Env, string, int) (int, string) {
	return map[string]func(*testing.T, *testenv.Env, string, int) (int, string){
		"versions.list":     do("GET", "/versions", ""),
		"images.list":       do("GET", "/v2/images", ""),
		"images.get":        do("GET", "/v2/images/{own}", ""),
		"images.create":     do("POST", "/v2/images", `{"name":"new"}`, jsonCT, "application/json"),
		"images.update":     do("PATCH", "/v2/images/{own}", `[{"op":"replace","path":"/name","value":"renamed"}]`, jsonCT, "application/openstack-images-v2.1-json-patch"),
		"images.delete":     do("DELETE", "/v2/images/{own}", ""),
		"images.upload":     do("PUT", "/v2/images/{queued}/file", "bytes", jsonCT, "application/octet-stream"),
		"images.download":   do("GET", "/v2/images/{own}/file", ""),
		"images.deactivate": do("POST", "/v2/images/{own}/actions/deactivate", ""),
		"images.reactivate": do("POST", "/v2/images/{deactivated}/actions/reactivate", ""),
		"tags.add":          do("PUT", "/v2/images/{own}/tags/new", ""),
		"tags.delete":       do("DELETE", "/v2/images/{own}/tags/t", ""),
		"members.list":      do("GET", "/v2/images/{own}/members", ""),
		"members.create":    do("POST", "/v2/images/{own}/members", `{"member":"7000"}`, jsonCT, "application/json"),
		"members.get":       do("GET", "/v2/images/{own}/members/{other}", ""),
		"members.update":    do("PUT", "/v2/images/{foreign}/members/{caller}", `{"status":"accepted"}`, jsonCT, "application/json"),
		"members.delete":    do("DELETE", "/v2/images/{own}/members/{other}", ""),
		"tasks.list":        do("GET", "/v2/tasks", ""),
		"tasks.create":      do("POST", "/v2/tasks", `{"type":"import","input":{}}`, jsonCT, "application/json"),
		"schemas.get":       do("GET", "/v2/schemas/image", ""),
		"info.import":       do("GET", "/v2/info/import", ""),
		"info.stores":       do("GET", "/v2/info/stores", ""),
	}
}

// Permissions by role, from API-NOTES §A. Every operation not listed for a role is denied.
var (
	rackspaceRead = []string{"versions.list", "images.list", "images.get", "images.download",
		"members.list", "members.get", "tasks.list", "schemas.get", "info.import", "info.stores"}
	rackspaceCreate = append(append([]string{}, rackspaceRead...),
		"images.create", "members.create", "tags.add", "tags.delete")
	everything = []string{"versions.list", "images.list", "images.get", "images.create", "images.update",
		"images.delete", "images.upload", "images.download", "images.deactivate", "images.reactivate",
		"tags.add", "tags.delete", "members.list", "members.create", "members.get", "members.update",
		"members.delete", "tasks.list", "tasks.create", "schemas.get", "info.import", "info.stores"}
	openstackReader = []string{"versions.list", "images.list", "images.get", "members.list", "members.get",
		"schemas.get", "info.import", "info.stores"}
	openstackMember = append(append([]string{}, openstackReader...),
		"images.create", "images.update", "images.delete", "images.upload", "images.download",
		"images.deactivate", "images.reactivate", "tags.add", "tags.delete",
		"members.create", "members.update", "members.delete")
)

func TestPermissionMatrix(t *testing.T) {
	cases := []struct {
		vocabulary string
		roles      []string
		allowed    []string
	}{
		{"rackspace", []string{"cloudImages:observer"}, rackspaceRead},
		{"rackspace", []string{"observer"}, rackspaceRead},
		{"rackspace", []string{"cloudImages:creator"}, rackspaceCreate},
		{"rackspace", []string{"cloudImages:admin"}, everything},
		{"rackspace", []string{"identity:user-admin"}, everything},
		{"rackspace", []string{"observer", "cloudImages:admin"}, everything},
		{"rackspace", []string{"cloudImages:observer", "cloudImages:creator"}, rackspaceCreate},
		{"rackspace", []string{"admin", "cloudImages:observer"}, everything},
		{"openstack", []string{"reader"}, openstackReader},
		{"openstack", []string{"member"}, openstackMember},
		{"openstack", []string{"admin"}, everything},
		{"none", []string{}, nil},
		{"none", []string{"cloudimages:admin", "Admin", "swift:admin"}, nil},
	}
	e := testenv.Start(t, testenv.Options{Mode: "service", NoSeed: true})
	rows := matrixRows()
	n := 0
	for _, c := range cases {
		allowed := map[string]bool{}
		for _, op := range c.allowed {
			allowed[op] = true
		}
		token := e.Token(t, caller, c.roles...)
		for op, call := range rows {
			n++
			t.Run(fmt.Sprintf("%s/%s/%s", c.vocabulary, strings.Join(c.roles, "+"), op), func(t *testing.T) {
				status, id := call(t, e, token, n)
				ev := e.WaitEvent(t, id)
				if ev.Input.Operation != op {
					t.Fatalf("recognised as %q", ev.Input.Operation)
				}
				if allowed[op] {
					if !ev.Result.Allow || status == 401 || status == 403 {
						t.Fatalf("want allowed, got %d %v %v", status, ev.Result.Code, ev.Result.Reasons)
					}
					return
				}
				if ev.Result.Allow || status != 403 {
					t.Fatalf("want 403, got %d allow=%v %v", status, ev.Result.Allow, ev.Result.Reasons)
				}
				if len(ev.Result.Reasons) == 0 {
					t.Fatal("a denial without reasons")
				}
			})
		}
	}
}
