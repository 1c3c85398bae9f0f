package imageapi

import (
	"net/http"
	"testing"
)

func TestTasks(t *testing.T) {
	a := newDemo(t, Enforcing)
	importTask := map[string]any{"type": "import", "input": map[string]any{"import_from": "http://example.com/x.qcow2", "import_from_format": "qcow2"}}

	// Tasks need admin.
	expect(t, a, request{method: "POST", path: "/v2/tasks", id: member1000, body: importTask}, http.StatusForbidden)
	expect(t, a, request{method: "GET", path: "/v2/tasks", id: member1000}, http.StatusForbidden)

	bad := []any{
		map[string]any{"input": map[string]any{}},
		map[string]any{"type": "import"},
		map[string]any{"type": "burn", "input": map[string]any{}},
		map[string]any{"type": "import", "input": "x"},
	}
	for _, b := range bad {
		expect(t, a, request{method: "POST", path: "/v2/tasks", id: admin9999, body: b}, http.StatusBadRequest)
	}

	var ids []string
	for _, typ := range []string{"import", "export", "import"} {
		body := map[string]any{"type": typ, "input": map[string]any{"image_id": DemoImageUbuntu}}
		w := expect(t, a, request{method: "POST", path: "/v2/tasks", id: admin9999, body: body}, http.StatusCreated)
		task := decode[map[string]any](t, w)
		if task["status"] != "pending" || task["owner"] != "9999" || task["type"] != typ || task["self"] != "/v2/tasks/"+task["id"].(string) {
			t.Fatalf("task %v", task)
		}
		if w.Header().Get("Location") != "http://example.com/v2/tasks/"+task["id"].(string) {
			t.Fatalf("Location %q", w.Header().Get("Location"))
		}
		ids = append(ids, task["id"].(string))
	}

	w := expect(t, a, request{method: "GET", path: "/v2/tasks/" + ids[0], id: admin9999}, http.StatusOK)
	if got := decode[map[string]any](t, w); got["input"].(map[string]any)["image_id"] != DemoImageUbuntu || got["image_id"] != DemoImageUbuntu {
		t.Fatalf("task %v", got)
	}
	expect(t, a, request{method: "GET", path: "/v2/tasks/" + ids[0], id: member1000}, http.StatusForbidden)
	expect(t, a, request{method: "GET", path: "/v2/tasks/00000000-0000-4000-8000-000000000000", id: admin9999}, http.StatusNotFound)

	list := func(query string) (ids []string, next string) {
		w := expect(t, a, request{method: "GET", path: "/v2/tasks" + query, id: admin9999}, http.StatusOK)
		body := decode[struct {
			Tasks []map[string]any `json:"tasks"`
			Next  string           `json:"next"`
		}](t, w)
		for _, task := range body.Tasks {
			if _, ok := task["input"]; ok {
				t.Fatal("list shows input")
			}
			ids = append(ids, task["id"].(string))
		}
		return ids, body.Next
	}
	got, _ := list("")
	if len(got) != 3 || got[0] != ids[2] {
		t.Fatalf("tasks %v (created %v)", got, ids)
	}
	if got, _ := list("?type=export"); len(got) != 1 || got[0] != ids[1] {
		t.Fatalf("export tasks %v", got)
	}
	page, next := list("?limit=2")
	if len(page) != 2 || next != "/v2/tasks?limit=2&marker="+page[1] {
		t.Fatalf("page %v next %q", page, next)
	}
	if rest, next := list("?limit=2&marker=" + page[1]); len(rest) != 1 || rest[0] != ids[0] || next != "" {
		t.Fatalf("second page %v next %q", rest, next)
	}
	expect(t, a, request{method: "GET", path: "/v2/tasks?status=done", id: admin9999}, http.StatusBadRequest)
	expect(t, a, request{method: "GET", path: "/v2/tasks?marker=nope", id: admin9999}, http.StatusBadRequest)

	// Naive: anyone uses tasks.
	n := newDemo(t, Naive)
	expect(t, n, request{method: "POST", path: "/v2/tasks", id: anonymous, body: importTask}, http.StatusCreated)
}
