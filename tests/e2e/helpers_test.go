package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"

	"github.com/imagegate/imagegate/tests/glance/glancetest"
	"github.com/imagegate/imagegate/tests/testenv"
)

// httpTimeout bounds every call of the suite: Glance answers in tens of milliseconds.
const httpTimeout = 30 * time.Second

// caller is one client of the proxy: a tenant (project) with a token and a gophercloud
// image service client that sends the token as X-Auth-Token.
type caller struct {
	name    string // "A", "B", … in messages and the transcript
	project string
	token   string
	sc      *gophercloud.ServiceClient
}

// newProject returns a random numeric project id, fresh for every run.
func newProject() string {
	return strconv.FormatUint(1e11+rand.Uint64N(9e11), 10)
}

// newCaller makes a caller of project with roles, talking to env's proxy.
func newCaller(t *testing.T, env *testenv.Env, name, project string, roles ...string) *caller {
	t.Helper()
	token := env.Token(t, project, roles...)
	return &caller{name: name, project: project, token: token, sc: imageClient(env.ProxyURL, token)}
}

// imageClient is a gophercloud image v2 client for proxyURL, authenticated by token.
func imageClient(proxyURL, token string) *gophercloud.ServiceClient {
	pc := &gophercloud.ProviderClient{HTTPClient: http.Client{Timeout: httpTimeout}}
	pc.UseTokenLock()
	pc.SetToken(token)
	return &gophercloud.ServiceClient{
		ProviderClient: pc,
		Endpoint:       proxyURL + "/",
		ResourceBase:   proxyURL + "/v2/",
		Type:           "image",
	}
}

// transcript is what one mode's run observed, in mode-independent words (statuses,
// "listed" or not), so that the runs of both modes can be compared line by line.
type transcript struct {
	mu    sync.Mutex
	lines []string
}

func (tr *transcript) add(format string, args ...any) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.lines = append(tr.lines, fmt.Sprintf(format, args...))
}

// observation is one line of a transcript: a label and what was seen.
type observation struct{ key, value string }

type observations []observation

func (os observations) get(key string) (string, bool) {
	for _, o := range os {
		if o.key == key {
			return o.value, true
		}
	}
	return "", false
}

// observations splits the lines at their first ": " into label and value; a label seen
// again gets a "#n" suffix, so that labels stay unique.
func (tr *transcript) observations() observations {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	seen := map[string]int{}
	out := make(observations, 0, len(tr.lines))
	for _, line := range tr.lines {
		key, value, _ := strings.Cut(line, ": ")
		seen[key]++
		if n := seen[key]; n > 1 {
			key = fmt.Sprintf("%s #%d", key, n)
		}
		out = append(out, observation{key, value})
	}
	return out
}

// outcome is the HTTP status of a gophercloud call (okStatus when it succeeded), with
// the body and headers of a refusal.
type outcome struct {
	status int
	body   []byte
	header http.Header
}

func outcomeOf(err error, okStatus int) outcome {
	if err == nil {
		return outcome{status: okStatus}
	}
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) {
		return outcome{status: ue.Actual, body: ue.Body, header: ue.ResponseHeader}
	}
	return outcome{status: -1, body: []byte(err.Error())}
}

func (o outcome) String() string {
	if len(o.body) == 0 {
		return strconv.Itoa(o.status)
	}
	b := o.body
	if len(b) > 400 {
		b = b[:400]
	}
	return fmt.Sprintf("%d %s", o.status, strings.TrimSpace(string(b)))
}

// errorDoc is the JSON error body imagegate writes for its refusals (DESIGN §6).
type errorDoc struct {
	Error struct {
		Code      int      `json:"code"`
		Title     string   `json:"title"`
		Message   string   `json:"message"`
		Type      string   `json:"type"`
		Reasons   []string `json:"reasons"`
		RequestID string   `json:"request_id"`
	} `json:"error"`
}

// checkRefusal asserts that o is a refusal with status want and imagegate's JSON error
// body, and records it.
func checkRefusal(t *testing.T, tr *transcript, label string, o outcome, want int) {
	t.Helper()
	tr.add("%s: %d", label, o.status)
	if o.status != want {
		t.Errorf("%s: got %s, want %d", label, o, want)
		return
	}
	var doc errorDoc
	if err := json.Unmarshal(o.body, &doc); err != nil || doc.Error.Code != want || doc.Error.Title != http.StatusText(want) {
		t.Errorf("%s: status %d but the body is not imagegate's JSON error "+
			`{"error": {"code": %d, "title": %q, …}}: %q`, label, want, want, http.StatusText(want), o.body)
		tr.add("%s: body is not a JSON error", label)
	}
}

// checkStatus asserts status want and records it.
func checkStatus(t *testing.T, tr *transcript, label string, o outcome, want int) {
	t.Helper()
	tr.add("%s: %d", label, o.status)
	if o.status != want {
		t.Errorf("%s: got %s, want %d", label, o, want)
	}
}

// listAll lists every page through gophercloud's pager (following the next links) and
// returns the images in order.
func listAll(t *testing.T, c *caller, opts images.ListOpts) ([]images.Image, error) {
	t.Helper()
	pages, err := images.List(c.sc, opts).AllPages(t.Context())
	if err != nil {
		return nil, err
	}
	return images.ExtractImages(pages)
}

// listIDs lists like listAll and returns the ids; a failed list fails the test.
func listIDs(t *testing.T, c *caller, opts images.ListOpts) []string {
	t.Helper()
	imgs, err := listAll(t, c, opts)
	if err != nil {
		t.Fatalf("%s lists images %+v: %v", c.name, opts, err)
	}
	ids := make([]string, len(imgs))
	for i, img := range imgs {
		ids[i] = img.ID
	}
	return ids
}

// checkListed asserts whether id is in c's list under opts, and records it.
func checkListed(t *testing.T, tr *transcript, label string, c *caller, opts images.ListOpts, id string, want bool) {
	t.Helper()
	got := slices.Contains(listIDs(t, c, opts), id)
	tr.add("%s: listed=%v", label, got)
	if got != want {
		t.Errorf("%s: %s's list %s contains the image: got %v, want %v", label, c.name, describeOpts(opts), got, want)
	}
}

func describeOpts(o images.ListOpts) string {
	q, _ := o.ToImageListQuery()
	if q == "" {
		return "(default)"
	}
	return q
}

// glanceDirect talks to Glance without the proxy, with the identity headers Glance
// trusts: for ground truths and for cleanups that must work whatever the proxy does.
type glanceDirect struct {
	url    string
	client *http.Client
}

func newGlanceDirect(g *glancetest.Glance) *glanceDirect {
	return &glanceDirect{url: g.URL, client: &http.Client{Timeout: httpTimeout}}
}

// do sends one request as project with the given Glance roles ("admin,member,reader").
func (g *glanceDirect) do(method, path, project, roles string) (int, []byte, error) {
	req, err := http.NewRequest(method, g.url+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Identity-Status", "Confirmed")
	req.Header.Set("X-Project-Id", project)
	req.Header.Set("X-User-Id", "e2e-"+project)
	req.Header.Set("X-Roles", roles)
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// listIDs returns every image id project sees in its default list, straight from
// Glance (member,reader as the proxy maps the member role), following next links.
func (g *glanceDirect) listIDs(t *testing.T, project, query string) []string {
	t.Helper()
	var ids []string
	next := "/v2/images?" + query
	for pages := 0; next != ""; pages++ {
		if pages > 100 {
			t.Fatalf("glance: more than 100 pages listing %s", query)
		}
		status, body, err := g.do(http.MethodGet, next, project, "member,reader")
		if err != nil || status != http.StatusOK {
			t.Fatalf("glance GET %s as %s: %d %v %s", next, project, status, err, body)
		}
		var page struct {
			Images []struct {
				ID string `json:"id"`
			} `json:"images"`
			Next string `json:"next"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("glance GET %s: %v", next, err)
		}
		for _, img := range page.Images {
			ids = append(ids, img.ID)
		}
		next = page.Next
	}
	return ids
}

// deleteImages removes images straight from Glance as an admin; missing ones are fine.
func (g *glanceDirect) deleteImages(t *testing.T, ids []string) {
	t.Helper()
	for _, id := range ids {
		status, body, err := g.do(http.MethodDelete, "/v2/images/"+id, "e2e-cleanup", "admin,member,reader")
		if err != nil || (status != http.StatusNoContent && status != http.StatusNotFound) {
			t.Errorf("cleanup: glance DELETE image %s: %d %v %s", id, status, err, body)
		}
	}
}

// rawPageWalk follows next links by hand (also past empty pages, which gophercloud's
// pager takes for the end of the list) and returns the ids and the page sizes seen.
func rawPageWalk(t *testing.T, env *testenv.Env, c *caller, path string) (ids []string, sizes []int) {
	t.Helper()
	for pages := 0; path != ""; pages++ {
		if pages > 100 {
			t.Fatalf("more than 100 pages walking %s", path)
		}
		resp, body := env.Request(t, http.MethodGet, path, c.token, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s GET %s: %d %s", c.name, path, resp.StatusCode, body)
		}
		var page struct {
			Images []struct {
				ID string `json:"id"`
			} `json:"images"`
			Next string `json:"next"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("%s GET %s: %v: %s", c.name, path, err, body)
		}
		sizes = append(sizes, len(page.Images))
		for _, img := range page.Images {
			ids = append(ids, img.ID)
		}
		path = page.Next
	}
	return ids, sizes
}

// counts returns how often each id occurs.
func counts(ids []string) map[string]int {
	m := make(map[string]int, len(ids))
	for _, id := range ids {
		m[id]++
	}
	return m
}

// setDiff returns the ids of a not in b, sorted.
func setDiff(a, b []string) []string {
	in := counts(b)
	var out []string
	for id := range counts(a) {
		if in[id] == 0 {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
