package route

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
)

const (
	testImage  = "a96b0f9e-5b3c-4d8e-9a39-7c8b6f1e2d3c"
	testMember = "123456"
	testTask   = "b4e3c1d2-0f9a-4b8c-8d7e-6f5a4b3c2d1e"
)

// glanceContract is the Glance v2 table as policies rely on it, written out independently
// of glanceRoutes so that an edit to the table shows up here.
func glanceContract() []struct {
	method, path, name string
	body               Body
	params             map[string]string
} {
	img := "/v2/images/" + testImage
	ip := map[string]string{"image_id": testImage}
	mp := map[string]string{"image_id": testImage, "member_id": testMember}
	tp := map[string]string{"image_id": testImage, "tag": "my tag"}
	return []struct {
		method, path, name string
		body               Body
		params             map[string]string
	}{
		{"GET", "/", "versions.list", BodyNone, map[string]string{}},
		{"GET", "/versions", "versions.list", BodyNone, map[string]string{}},
		{"GET", "/v2/images", "images.list", BodyNone, map[string]string{}},
		{"POST", "/v2/images", "images.create", BodyJSON, map[string]string{}},
		{"GET", img, "images.get", BodyNone, ip},
		{"PATCH", img, "images.update", BodyPatch, ip},
		{"DELETE", img, "images.delete", BodyNone, ip},
		{"PUT", img + "/file", "images.upload", BodyData, ip},
		{"GET", img + "/file", "images.download", BodyNone, ip},
		{"PUT", img + "/stage", "images.stage", BodyData, ip},
		{"POST", img + "/import", "images.import", BodyJSON, ip},
		{"POST", img + "/actions/deactivate", "images.deactivate", BodyNone, ip},
		{"POST", img + "/actions/reactivate", "images.reactivate", BodyNone, ip},
		{"GET", img + "/tasks", "images.tasks", BodyNone, ip},
		{"PUT", img + "/tags/my tag", "tags.add", BodyNone, tp},
		{"DELETE", img + "/tags/my tag", "tags.delete", BodyNone, tp},
		{"GET", img + "/members", "members.list", BodyNone, ip},
		{"POST", img + "/members", "members.create", BodyJSON, ip},
		{"GET", img + "/members/" + testMember, "members.get", BodyNone, mp},
		{"PUT", img + "/members/" + testMember, "members.update", BodyJSON, mp},
		{"DELETE", img + "/members/" + testMember, "members.delete", BodyNone, mp},
		{"GET", "/v2/tasks", "tasks.list", BodyNone, map[string]string{}},
		{"POST", "/v2/tasks", "tasks.create", BodyJSON, map[string]string{}},
		{"GET", "/v2/tasks/" + testTask, "tasks.get", BodyNone, map[string]string{"task_id": testTask}},
		{"GET", "/v2/schemas/image", "schemas.get", BodyNone, map[string]string{"schema": "image"}},
		{"GET", "/v2/schemas/images", "schemas.get", BodyNone, map[string]string{"schema": "images"}},
		{"GET", "/v2/schemas/member", "schemas.get", BodyNone, map[string]string{"schema": "member"}},
		{"GET", "/v2/schemas/members", "schemas.get", BodyNone, map[string]string{"schema": "members"}},
		{"GET", "/v2/schemas/task", "schemas.get", BodyNone, map[string]string{"schema": "task"}},
		{"GET", "/v2/schemas/tasks", "schemas.get", BodyNone, map[string]string{"schema": "tasks"}},
		{"GET", "/v2/info/import", "info.import", BodyNone, map[string]string{}},
		{"GET", "/v2/info/stores", "info.stores", BodyNone, map[string]string{}},
	}
}

func TestGlanceMatch(t *testing.T) {
	r := NewGlance()
	for _, tt := range glanceContract() {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			op, err := r.Match(tt.method, tt.path)
			wantCode(t, err, "")
			if op.Dialect != DialectGlance || op.Name != tt.name || op.Body != tt.body || op.Deprecated {
				t.Errorf("op = %+v, want %s (%v)", op, tt.name, tt.body)
			}
			if op.Params == nil || !maps.Equal(op.Params, tt.params) {
				t.Errorf("params = %v, want %v", op.Params, tt.params)
			}
		})
	}
}

// TestGlanceResolveEveryRoute runs each route through the whole pipeline with a
// percent-encoded request target, as a client would send it.
func TestGlanceResolveEveryRoute(t *testing.T) {
	r := NewGlance()
	for _, tt := range glanceContract() {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			target := strings.ReplaceAll(tt.path, " ", "%20") + "?limit=5"
			req := mustRequest(t, tt.method, target)
			op, q, err := r.Resolve(req, 10)
			wantCode(t, err, "")
			if op.Name != tt.name || !maps.Equal(op.Params, tt.params) {
				t.Errorf("op = %+v, want %s %v", op, tt.name, tt.params)
			}
			if q.Get("limit") != "5" {
				t.Errorf("query = %v", q)
			}
		})
	}
}

// TestGlanceOperations: Operations lists exactly the contract's routes (schemas once, as
// a pattern).
func TestGlanceOperations(t *testing.T) {
	type key struct{ method, name string }
	want := map[key]bool{}
	for _, c := range glanceContract() {
		want[key{c.method, c.name}] = true
	}
	ops := NewGlance().Operations()
	got := map[key]bool{}
	for _, o := range ops {
		got[key{o.Method, o.Name}] = true
		if o.Pattern == "" || !strings.HasPrefix(o.Pattern, "/") {
			t.Errorf("route %+v has bad pattern", o)
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("Operations() names = %v, want %v", got, want)
	}
	if len(ops) != 27 {
		t.Errorf("len(Operations()) = %d, want 27", len(ops))
	}
	ops[0].Name = "changed"
	if NewGlance().Operations()[0].Name == "changed" {
		t.Error("Operations returns shared memory")
	}
}

// TestGlanceOperationsMatch: every listed route matches itself with sample parameters, so
// documentation generated from Operations never lists a dead route.
func TestGlanceOperationsMatch(t *testing.T) {
	r := NewGlance()
	samples := map[string]string{"image_id": testImage, "member_id": testMember, "tag": "t", "task_id": testTask, "schema": "image"}
	for _, o := range r.Operations() {
		t.Run(o.Method+" "+o.Pattern, func(t *testing.T) {
			path := o.Pattern
			for k, v := range samples {
				path = strings.ReplaceAll(path, "{"+k+"}", v)
			}
			op, err := r.Match(o.Method, path)
			wantCode(t, err, "")
			if op.Name != o.Name || op.Body != o.Body || op.Deprecated != o.Deprecated {
				t.Errorf("Match = %+v, want %+v", op, o)
			}
		})
	}
}

// TestGlanceMethodNotAllowed: every known path refuses every other method with 405 and
// the Allow list of the methods it has.
func TestGlanceMethodNotAllowed(t *testing.T) {
	r := NewGlance()
	allow := map[string][]string{}
	for _, c := range glanceContract() {
		allow[c.path] = append(allow[c.path], c.method)
	}
	methods := []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT", "PROPFIND"}
	for path, ok := range allow {
		slices.Sort(ok)
		for _, m := range methods {
			if slices.Contains(ok, m) {
				continue
			}
			t.Run(m+" "+path, func(t *testing.T) {
				_, err := r.Match(m, path)
				e := wantCode(t, err, CodeMethodNotAllowed)
				wantAllow(t, e, ok...)
				if e.Status() != http.StatusMethodNotAllowed {
					t.Errorf("status = %d", e.Status())
				}
			})
		}
	}
}

func TestGlanceNotFound(t *testing.T) {
	r := NewGlance()
	img := "/v2/images/" + testImage
	paths := []string{
		"",
		"v2/images",
		"/v1/images",
		"/v2",
		"/v3/images",
		"/V2/images",
		"/v2/Images",
		"/V2/Images",
		"/v2/IMAGES",
		"/Versions",
		"/v2/images/" + testImage + "/FILE",
		"/v2/\u0456mages", // Cyrillic i
		"/v2/\uff49mages", // fullwidth i
		"/v2/images\u200b",
		img + "/actions",
		img + "/actions/delete",
		img + "/tags",
		img + "/members/" + testMember + "/extra",
		img + "/file/extra",
		"/v2/tasks/" + testTask + "/x",
		"/v2/schemas",
		"/v2/schemas/metadefs",
		"/v2/schemas/Image",
		"/v2/schemas/image/x",
		"/v2/info",
		"/v2/info/usage",
		"/v2/images/",
		"/v2//images",
		"//",
		"/v2/images/" + testImage + "/",
		"/v2/images//members",
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
				_, err := r.Match(m, p)
				e := wantCode(t, err, CodeNotFound)
				if e.Status() != http.StatusNotFound || e.Allow != nil {
					t.Errorf("status %d, allow %v", e.Status(), e.Allow)
				}
			}
		})
	}
}

func TestGlanceParams(t *testing.T) {
	r := NewGlance()
	long := strings.Repeat("a", 256)
	max := strings.Repeat("a", 255)
	tests := []struct {
		name, method, path string
		code               string
	}{
		{"image id at limit", "GET", "/v2/images/" + max, ""},
		{"image id too long", "GET", "/v2/images/" + long, CodeBadParam},
		{"image id too long, wrong method first", "POST", "/v2/images/" + long, CodeMethodNotAllowed},
		{"member id at limit", "GET", "/v2/images/x/members/" + max, ""},
		{"member id too long", "GET", "/v2/images/x/members/" + long, CodeBadParam},
		{"task id too long", "GET", "/v2/tasks/" + long, CodeBadParam},
		{"tag at limit", "PUT", "/v2/images/x/tags/" + max, ""},
		{"tag too long", "PUT", "/v2/images/x/tags/" + long, CodeBadParam},
		{"tag multibyte at limit", "PUT", "/v2/images/x/tags/" + strings.Repeat("é", 127), ""},
		{"tag multibyte too long", "PUT", "/v2/images/x/tags/" + strings.Repeat("é", 128), CodeBadParam},
		{"tag with control char", "PUT", "/v2/images/x/tags/a\nb", CodeBadParam},
		{"tag with NUL", "PUT", "/v2/images/x/tags/a\x00", CodeBadParam},
		{"tag with C1", "PUT", "/v2/images/x/tags/a\u0085", CodeBadParam},
		{"tag not UTF-8", "PUT", "/v2/images/x/tags/a\xff", CodeBadParam},
		{"image id dotdot", "GET", "/v2/images/..", CodeBadParam},
		{"image id dot", "GET", "/v2/images/./members", CodeBadParam},
		{"schema unknown", "GET", "/v2/schemas/metadefs", CodeNotFound},
		{"schema unknown, wrong method", "POST", "/v2/schemas/bogus", CodeNotFound},
		{"schema known, wrong method", "POST", "/v2/schemas/image", CodeMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Match(tt.method, tt.path)
			wantCode(t, err, tt.code)
		})
	}
}
