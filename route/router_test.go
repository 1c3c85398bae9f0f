package route

import (
	"maps"
	"strings"
	"sync"
	"testing"
)

func TestNewRouterRefusesBadTables(t *testing.T) {
	ok := RouteInfo{"GET", "/v1/x/{id}", "x.get", BodyNone, false}
	tests := []struct {
		name    string
		dialect string
		table   []RouteInfo
		rules   map[string]ParamRule
		why     string
	}{
		{"empty dialect", "", []RouteInfo{ok}, nil, "dialect"},
		{"unknown method", "d", []RouteInfo{{"TRACE", "/x", "x", BodyNone, false}}, nil, "method"},
		{"lower-case method", "d", []RouteInfo{{"get", "/x", "x", BodyNone, false}}, nil, "method"},
		{"empty name", "d", []RouteInfo{{"GET", "/x", "", BodyNone, false}}, nil, "name"},
		{"bad body", "d", []RouteInfo{{"GET", "/x", "x", Body(9), false}}, nil, "body"},
		{"relative pattern", "d", []RouteInfo{{"GET", "x", "x", BodyNone, false}}, nil, "start"},
		{"empty pattern", "d", []RouteInfo{{"GET", "", "x", BodyNone, false}}, nil, "start"},
		{"empty segment", "d", []RouteInfo{{"GET", "/a//b", "x", BodyNone, false}}, nil, "literal"},
		{"trailing slash", "d", []RouteInfo{{"GET", "/a/", "x", BodyNone, false}}, nil, "literal"},
		{"dot segment", "d", []RouteInfo{{"GET", "/a/../b", "x", BodyNone, false}}, nil, "literal"},
		{"escaped literal", "d", []RouteInfo{{"GET", "/im%61ges", "x", BodyNone, false}}, nil, "literal"},
		{"brace in literal", "d", []RouteInfo{{"GET", "/a{b}", "x", BodyNone, false}}, nil, "literal"},
		{"unclosed param", "d", []RouteInfo{{"GET", "/{id", "x", BodyNone, false}}, nil, "parameter"},
		{"empty param", "d", []RouteInfo{{"GET", "/{}", "x", BodyNone, false}}, nil, "parameter"},
		{"upper-case param", "d", []RouteInfo{{"GET", "/{ID}", "x", BodyNone, false}}, nil, "parameter"},
		{"dash in param", "d", []RouteInfo{{"GET", "/{image-id}", "x", BodyNone, false}}, nil, "parameter"},
		{"param twice", "d", []RouteInfo{{"GET", "/{id}/{id}", "x", BodyNone, false}}, nil, "twice"},
		{"too many params", "d", []RouteInfo{{"GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", "x", BodyNone, false}}, nil, "more than"},
		{"duplicate route", "d", []RouteInfo{ok, ok}, nil, "duplicate"},
		{"duplicate route, other param name", "d", []RouteInfo{ok, {"GET", "/v1/x/{xid}", "x.get2", BodyNone, false}}, nil, "{id}"},
		{"conflicting param names", "d", []RouteInfo{ok, {"PUT", "/v1/x/{key}/y", "y", BodyNone, false}}, nil, "{id}"},
		{"rule for unknown param", "d", []RouteInfo{ok}, map[string]ParamRule{"idd": {}}, "idd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRouter(tt.dialect, tt.table, tt.rules)
			if err == nil {
				t.Fatalf("NewRouter accepted the table: %v", r.Operations())
			}
			if !strings.Contains(err.Error(), tt.why) {
				t.Errorf("error %q does not mention %q", err, tt.why)
			}
		})
	}
}

// TestRouterSecondDialect builds a Gcore-style table with the same matcher, as the v1
// dialect will: several leading parameters and literals beside parameters.
func TestRouterSecondDialect(t *testing.T) {
	table := []RouteInfo{
		{"GET", "/v1/images/{project_id}/{region_id}", "images.list", BodyNone, false},
		{"POST", "/v1/images/{project_id}/{region_id}", "images.create", BodyJSON, false},
		{"GET", "/v1/images/{project_id}/{region_id}/{image_id}", "images.get", BodyNone, false},
		{"PATCH", "/v1/images/{project_id}/{region_id}/{image_id}", "images.update", BodyJSON, true},
		{"POST", "/v1/images/{project_id}/{region_id}/upload", "images.upload", BodyJSON, false},
		{"GET", "/v1/images/{project_id}/{region_id}/upload/{task_id}", "uploads.get", BodyNone, false},
	}
	r, err := NewRouter(DialectGcore, table, map[string]ParamRule{"project_id": {MaxLen: 20}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path, name string
		params             map[string]string
		code               string
	}{
		{"GET", "/v1/images/1/2", "images.list", map[string]string{"project_id": "1", "region_id": "2"}, ""},
		{"GET", "/v1/images/1/2/abc", "images.get", map[string]string{"project_id": "1", "region_id": "2", "image_id": "abc"}, ""},
		{"PATCH", "/v1/images/1/2/abc", "images.update", map[string]string{"project_id": "1", "region_id": "2", "image_id": "abc"}, ""},
		{"POST", "/v1/images/1/2/upload", "images.upload", map[string]string{"project_id": "1", "region_id": "2"}, ""},
		// The path is resolved without the method: the literal "upload" owns it, so a GET is
		// 405 rather than images.get of an image named "upload".
		{"GET", "/v1/images/1/2/upload", "", nil, CodeMethodNotAllowed},
		{"GET", "/v1/images/1/2/upload/t", "uploads.get", map[string]string{"project_id": "1", "region_id": "2", "task_id": "t"}, ""},
		{"DELETE", "/v1/images/1/2/abc", "", nil, CodeMethodNotAllowed},
		{"GET", "/v1/images/1", "", nil, CodeNotFound},
		{"GET", "/", "", nil, CodeNotFound},
		{"GET", "/v1/images/" + strings.Repeat("9", 21) + "/2", "", nil, CodeBadParam},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			op, err := r.Match(tt.method, tt.path)
			wantCode(t, err, tt.code)
			if tt.code != "" {
				return
			}
			if op.Dialect != DialectGcore || op.Name != tt.name || !maps.Equal(op.Params, tt.params) {
				t.Errorf("op = %+v, want %s %v", op, tt.name, tt.params)
			}
		})
	}
	if r.Dialect() != DialectGcore {
		t.Errorf("Dialect() = %q", r.Dialect())
	}
}

// TestRouterBacktracking: a literal branch that leads nowhere does not hide a route
// reached through the parameter at the same position.
func TestRouterBacktracking(t *testing.T) {
	r, err := NewRouter("d", []RouteInfo{
		{"GET", "/a/b/c", "literal", BodyNone, false},
		{"GET", "/a/{x}/d", "param", BodyNone, false},
		{"GET", "/a/{x}", "short", BodyNone, false},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, name, x string }{
		{"/a/b/c", "literal", ""},
		{"/a/b/d", "param", "b"},
		{"/a/b", "short", "b"}, // "/a/b" is only an inner position of the literal branch
		{"/a/z/d", "param", "z"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			op, err := r.Match("GET", tt.path)
			wantCode(t, err, "")
			if op.Name != tt.name || op.Params["x"] != tt.x {
				t.Errorf("op = %+v, want %s x=%q", op, tt.name, tt.x)
			}
		})
	}
}

// TestRouterTableCopied: the router keeps its own copy of the table and rules.
func TestRouterTableCopied(t *testing.T) {
	table := []RouteInfo{{"GET", "/s/{k}", "s.get", BodyNone, false}}
	rules := map[string]ParamRule{"k": {OneOf: []string{"a"}}}
	r, err := NewRouter("d", table, rules)
	if err != nil {
		t.Fatal(err)
	}
	table[0].Name = "changed"
	rules["k"].OneOf[0] = "b"
	op, err := r.Match("GET", "/s/a")
	wantCode(t, err, "")
	if op.Name != "s.get" {
		t.Errorf("name = %q", op.Name)
	}
	if r.Operations()[0].Name != "s.get" {
		t.Errorf("Operations changed with the caller's table")
	}
}

// TestMatchAllowIsACopy: changing one error's Allow does not change the next one's.
func TestMatchAllowIsACopy(t *testing.T) {
	r := NewGlance()
	_, err := r.Match("DELETE", "/v2/images")
	e := wantCode(t, err, CodeMethodNotAllowed)
	wantAllow(t, e, "GET", "POST")
	e.Allow[0] = "TRACE"
	_, err = r.Match("DELETE", "/v2/images")
	wantAllow(t, wantCode(t, err, CodeMethodNotAllowed), "GET", "POST")
}

// TestRouterConcurrent: a Router is used by all requests at once (run with -race).
func TestRouterConcurrent(t *testing.T) {
	r := NewGlance()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				path := "/v2/images/" + testImage + "/members/" + testMember
				op, err := r.Match("PUT", path)
				if err != nil || op.Name != "members.update" {
					t.Errorf("goroutine %d, %d: %v %v", i, j, op, err)
					return
				}
				op.Params["image_id"] = "mine"
			}
		})
	}
	wg.Wait()
}
