package glancetest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// do sends one request with the identity headers imagegate sets.
func do(t *testing.T, method, url, project, roles, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if project != "" {
		req.Header.Set("X-Identity-Status", "Confirmed")
		req.Header.Set("X-Project-Id", project)
		req.Header.Set("X-User-Id", "user-"+project)
		req.Header.Set("X-Roles", roles)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp.StatusCode, b
}

func TestStartCreateGet(t *testing.T) {
	g := Start(t)

	const project = "11111111111111111111111111111111"
	code, body := do(t, "POST", g.URL+"/v2/images", project, "member,reader",
		`{"name":"glancetest","disk_format":"raw","container_format":"bare"}`)
	if code != http.StatusCreated {
		t.Fatalf("create: status %d, want 201: %s", code, body)
	}
	var created struct {
		ID, Owner, Visibility, Status string
	}
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatalf("create: %v: %s", err, body)
	}
	if created.Owner != project {
		t.Fatalf("create: owner %q, want the project sent %q (is the trusted 'context' pipeline in use?)", created.Owner, project)
	}
	if created.Visibility != "shared" || created.Status != "queued" {
		t.Errorf("create: visibility %q status %q, want shared/queued", created.Visibility, created.Status)
	}

	code, body = do(t, "GET", g.URL+"/v2/images/"+created.ID, project, "member,reader", "")
	if code != http.StatusOK {
		t.Fatalf("get: status %d, want 200: %s", code, body)
	}
	var got struct{ ID, Owner string }
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("get: %v: %s", err, body)
	}
	if got.ID != created.ID || got.Owner != project {
		t.Fatalf("get: id %q owner %q, want %q %q", got.ID, got.Owner, created.ID, project)
	}

	// Guard against the everyone-is-admin pipeline: another project must
	// not see the image, and a request without identity is refused.
	if code, body = do(t, "GET", g.URL+"/v2/images/"+created.ID, "22222222222222222222222222222222", "member,reader", ""); code != http.StatusNotFound {
		t.Errorf("get as another project: status %d, want 404: %s", code, body)
	}
	if code, body = do(t, "GET", g.URL+"/v2/images", "", "", ""); code != http.StatusUnauthorized {
		t.Errorf("list without X-Identity-Status: status %d, want 401: %s", code, body)
	}
}
