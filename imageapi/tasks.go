package imageapi

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Task types accepted by POST /v2/tasks: Glance's "import", and "export"
// from the Rackspace flavour of the API. Imports through
// POST /v2/images/{id}/import record "api_image_import" tasks.
var taskTypes = stringSet("import", "export")

var taskStatuses = stringSet("pending", "processing", "success", "failure")

func taskView(t *Task) map[string]any {
	v := taskStub(t)
	v["input"] = t.Input
	v["result"] = t.Result
	v["message"] = t.Message
	if t.ImageID != "" {
		v["image_id"] = t.ImageID
	}
	if t.RequestID != "" {
		v["request_id"] = t.RequestID
	}
	if t.UserID != "" {
		v["user_id"] = t.UserID
	}
	return v
}

// dbTimeFormat is how Glance renders task times under
// /v2/images/{id}/tasks: the database's form, microseconds and no zone.
const dbTimeFormat = "2006-01-02T15:04:05.000000"

// imageTaskView renders a task as GET /v2/images/{id}/tasks does: Glance
// returns the database rows there (deleted flags, no self or schema).
func imageTaskView(t *Task) map[string]any {
	var expires any
	if t.ExpiresAt != nil {
		expires = t.ExpiresAt.UTC().Format(dbTimeFormat)
	}
	var result any
	if t.Result != nil {
		result = t.Result
	}
	return map[string]any{
		"id":         t.ID,
		"type":       t.Type,
		"status":     t.Status,
		"owner":      t.Owner,
		"expires_at": expires,
		"created_at": t.CreatedAt.UTC().Format(dbTimeFormat),
		"updated_at": t.UpdatedAt.UTC().Format(dbTimeFormat),
		"deleted_at": nil,
		"deleted":    false,
		"image_id":   t.ImageID,
		"request_id": t.RequestID,
		"user_id":    t.UserID,
		"input":      t.Input,
		"result":     result,
		"message":    t.Message,
	}
}

// taskStub is the short form lists show (no input, result or message).
func taskStub(t *Task) map[string]any {
	v := map[string]any{
		"id":         t.ID,
		"type":       t.Type,
		"status":     t.Status,
		"owner":      t.Owner,
		"created_at": formatTime(t.CreatedAt),
		"updated_at": formatTime(t.UpdatedAt),
		"self":       "/v2/tasks/" + t.ID,
		"schema":     "/v2/schemas/task",
	}
	if t.ExpiresAt != nil {
		v["expires_at"] = formatTime(*t.ExpiresAt)
	}
	return v
}

// compareTasks orders tasks newest first, then by id descending.
func compareTasks(x, y *Task) int {
	if c := y.CreatedAt.Compare(x.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(y.ID, x.ID)
}

// sortTasks orders tasks newest first, then by id.
func sortTasks(tasks []*Task) {
	slices.SortFunc(tasks, compareTasks)
}

func (a *API) serveCreateTask(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.canUseTasks() {
		writeAPIError(w, policyDenied("tasks_api_access"))
		return
	}
	body, e := readJSONObject(w, r)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	for _, k := range []string{"type", "input"} {
		if _, ok := body[k]; !ok {
			writeAPIError(w, badRequest("Task '%s' is required", k))
			return
		}
	}
	typ, _ := body["type"].(string)
	if !taskTypes[typ] {
		writeAPIError(w, badRequest("Provided object does not match schema 'task': 'type' must be one of import, export"))
		return
	}
	input, ok := body["input"].(map[string]any)
	if !ok {
		writeAPIError(w, badRequest("Provided object does not match schema 'task': 'input' must be an object"))
		return
	}
	now := a.timestamp()
	t := &Task{
		ID:        newUUID(),
		Type:      typ,
		Status:    "pending",
		Owner:     c.project,
		UserID:    c.user,
		Input:     input,
		CreatedAt: now,
		UpdatedAt: now,
	}
	if id, ok := input["image_id"].(string); ok {
		t.ImageID = id
	}
	a.mu.Lock()
	a.tasks[t.ID] = t
	view := taskView(t)
	a.mu.Unlock()
	w.Header().Set("Location", absoluteURL(r, "/v2/tasks/"+t.ID))
	writeJSON(w, http.StatusCreated, view)
}

func (a *API) serveGetTask(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.canUseTasks() {
		writeAPIError(w, policyDenied("tasks_api_access"))
		return
	}
	id := r.PathValue("id")
	a.mu.RLock()
	defer a.mu.RUnlock()
	t, ok := a.tasks[id]
	if !ok {
		writeAPIError(w, notFound("Failed to find task %s", id))
		return
	}
	writeJSON(w, http.StatusOK, taskView(t))
}

func (a *API) serveListTasks(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.canUseTasks() {
		writeAPIError(w, policyDenied("tasks_api_access"))
		return
	}
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeAPIError(w, badRequest("Invalid query string: %v", err))
		return
	}
	limit := DefaultListLimit
	if v, ok := firstParam(params, "limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeAPIError(w, badRequest("limit param must be an integer"))
			return
		}
		if n < 0 {
			writeAPIError(w, badRequest("limit param must be positive"))
			return
		}
		limit = min(n, MaxListLimit)
	}
	asc := false
	if v, ok := firstParam(params, "sort_dir"); ok {
		if v != "asc" && v != "desc" {
			writeAPIError(w, badRequest("Invalid sort direction: %s", v))
			return
		}
		asc = v == "asc"
	}
	status, _ := firstParam(params, "status")
	if status != "" && !taskStatuses[status] {
		writeAPIError(w, badRequest("Invalid status value: %s", status))
		return
	}
	typ, _ := firstParam(params, "type")
	if typ != "" && !taskTypes[typ] && typ != "api_image_import" {
		writeAPIError(w, badRequest("Invalid type value: %s", typ))
		return
	}
	marker, _ := firstParam(params, "marker")

	a.mu.RLock()
	var markerTask *Task
	if marker != "" {
		var ok bool
		if markerTask, ok = a.tasks[marker]; !ok {
			a.mu.RUnlock()
			writeAPIError(w, badRequest("Invalid marker. Task %s could not be found.", marker))
			return
		}
	}
	order := compareTasks
	if asc {
		order = func(x, y *Task) int { return compareTasks(y, x) }
	}
	tasks := make([]*Task, 0, len(a.tasks))
	for _, t := range a.tasks {
		if status != "" && t.Status != status || typ != "" && t.Type != typ {
			continue
		}
		if markerTask != nil && order(t, markerTask) <= 0 {
			continue
		}
		tasks = append(tasks, t)
	}
	slices.SortFunc(tasks, order)
	more := len(tasks) > limit
	if more {
		tasks = tasks[:limit]
	}
	views := make([]map[string]any, len(tasks))
	for i, t := range tasks {
		views[i] = taskStub(t)
	}
	var nextID string
	if more && len(tasks) > 0 {
		nextID = tasks[len(tasks)-1].ID
	}
	a.mu.RUnlock()

	rest := queryWithout(r.URL.RawQuery, "marker")
	body := map[string]any{"tasks": views, "first": "/v2/tasks", "schema": "/v2/schemas/tasks"}
	if rest != "" {
		body["first"] = "/v2/tasks?" + rest
	}
	if nextID != "" {
		body["next"] = "/v2/tasks?" + joinQuery(rest, "marker="+url.QueryEscape(nextID))
	}
	writeJSON(w, http.StatusOK, body)
}
