package imageapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// identity is a set of trusted headers, as the proxy would send them.
type identity map[string]string

// as returns the headers of a confirmed caller of project with roles.
func as(project string, roles ...string) identity {
	return identity{
		"X-Identity-Status": "Confirmed",
		"X-Project-Id":      project,
		"X-Roles":           strings.Join(roles, ","),
		"X-User-Id":         "user-" + project,
	}
}

var (
	member1000 = as(DemoTenantA, "member", "reader")
	member2000 = as(DemoTenantB, "member", "reader")
	member3000 = as(DemoTenantC, "member", "reader")
	reader1000 = as(DemoTenantA, "reader")
	reader2000 = as(DemoTenantB, "reader")
	admin9999  = as("9999", "admin", "member", "reader")
	anonymous  = identity{}
)

// testClock returns a clock that advances one second per call.
func testClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

// newDemo returns an API in mode with the demo fixture and a test clock.
func newDemo(t testing.TB, mode Mode) *API {
	t.Helper()
	return NewDemo(Options{Mode: mode, Now: testClock()})
}

// request is one test request.
type request struct {
	method  string
	path    string
	id      identity
	body    any               // string, []byte, io.Reader or a value encoded as JSON
	headers map[string]string // extra headers (Content-Type, Range...)
}

func (rq request) build() *http.Request {
	var body io.Reader
	contentType := ""
	switch b := rq.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	case io.Reader:
		body = b
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			panic(err)
		}
		body = bytes.NewReader(raw)
		contentType = "application/json"
	}
	r := httptest.NewRequest(rq.method, rq.path, body)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for k, v := range rq.id {
		r.Header.Set(k, v)
	}
	for k, v := range rq.headers {
		r.Header.Set(k, v)
	}
	return r
}

// do serves one request and returns the recorded response.
func do(t testing.TB, h http.Handler, rq request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, rq.build())
	return w
}

// expect serves a request and fails unless it answers code.
func expect(t testing.TB, h http.Handler, rq request, code int) *httptest.ResponseRecorder {
	t.Helper()
	w := do(t, h, rq)
	if w.Code != code {
		t.Fatalf("%s %s: status %d, want %d; body: %s", rq.method, rq.path, w.Code, code, w.Body.String())
	}
	return w
}

// decode parses a JSON response body.
func decode[T any](t testing.TB, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", w.Body.String(), err)
	}
	return v
}

// listIDs returns the ids of a list response, in order.
func listIDs(t testing.TB, w *httptest.ResponseRecorder) []string {
	t.Helper()
	body := decode[struct {
		Images []struct {
			ID string `json:"id"`
		} `json:"images"`
	}](t, w)
	ids := make([]string, len(body.Images))
	for i, img := range body.Images {
		ids[i] = img.ID
	}
	return ids
}

// errorMessage returns the message of an ErrorBody response.
func errorMessage(t testing.TB, w *httptest.ResponseRecorder) string {
	t.Helper()
	return decode[ErrorBody](t, w).Error.Message
}

const patchType = "application/openstack-images-v2.1-json-patch"

func patchHeaders() map[string]string { return map[string]string{"Content-Type": patchType} }

func octetHeaders() map[string]string {
	return map[string]string{"Content-Type": "application/octet-stream"}
}

// createImage creates an image as id and returns its id.
func createImage(t testing.TB, h http.Handler, id identity, body map[string]any) string {
	t.Helper()
	w := expect(t, h, request{method: "POST", path: "/v2/images", id: id, body: body}, http.StatusCreated)
	return decode[map[string]any](t, w)["id"].(string)
}

// httptestServe serves a prepared request.
func httptestServe(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
