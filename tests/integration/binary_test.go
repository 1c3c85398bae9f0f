package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/imageapi"
	"github.com/imagegate/imagegate/tests/testenv"
)

func TestBinaryDecidesAndLogs(t *testing.T) {
	e := testenv.StartBinary(t, binary, testenv.Options{})
	alice := e.Token(t, imageapi.DemoTenantA, "member")
	bob := e.Token(t, imageapi.DemoTenantB, "member")

	resp, body := e.Request(t, "GET", "/v2/images", alice, nil)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(imageapi.DemoImagePrivateA)) {
		t.Fatalf("alice's list: %d %s", resp.StatusCode, body)
	}
	resp, body = e.Request(t, "GET", "/v2/images/"+imageapi.DemoImagePrivateA, bob, nil)
	if resp.StatusCode != 404 {
		t.Fatalf("bob reads alice's private image: %d %s", resp.StatusCode, body)
	}
	var eb struct {
		Error struct {
			Code int    `json:"code"`
			Type string `json:"type"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Code != 404 || eb.Error.Type != "not_found" {
		t.Fatalf("error body %s: %v", body, err)
	}
	ev := e.WaitEvent(t, resp.Header.Get("X-Request-Id"))
	if ev.Result.Allow || ev.Result.Status != 404 || ev.Input.Principal.Tenant != imageapi.DemoTenantB ||
		ev.Input.Operation != "images.get" || ev.Revision == "" {
		t.Fatalf("decision event %+v", ev)
	}
	for _, ev := range e.Events(t) {
		b, _ := json.Marshal(ev)
		if bytes.Contains(b, []byte(bob[:40])) || bytes.Contains(b, []byte(alice[:40])) {
			t.Fatalf("a token reached the decision log: %s", b)
		}
	}

	// The admin listener: probes and metrics.
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "upstream reachable", "/metrics": "imagegate_requests_total"} {
		resp, err := http.Get(e.AdminURL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Fatalf("%s: %d %.200s", path, resp.StatusCode, b)
		}
	}
}

func TestBinaryRefusesBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	env := testenv.Setup(t, testenv.Options{NoSeed: true})
	good := "upstream: {url: http://127.0.0.1:1}\nauth:\n  issuers:\n    - {issuer: https://i, audience: [a], algorithms: [RS256], key_files: [" + env.KeyFile + "]}\n"
	cases := []struct {
		name, yaml string
		env        []string
		want       string
	}{
		{"unknown key", good + "upstream_url: x\n", nil, "upstream_url"},
		{"invalid value", good + "limits: {max_in_flight: 0}\n", nil, "limits.max_in_flight"},
		{"unknown variable", good, []string{"IMAGEGATE_UPSTREAM_MODEE=service"}, "IMAGEGATE_UPSTREAM_MODEE"},
		{"bad algorithm", strings.Replace(good, "RS256", "none", 1), nil, "algorithms"},
		{"missing file", "", nil, "no such file"},
		{"bad policy dir", good + "policy: {dir: /nonexistent}\n", nil, "policy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".yaml")
			if c.yaml != "" {
				if err := os.WriteFile(path, []byte(c.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, "serve", "--config", path)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, c.env...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), c.want) {
				t.Fatalf("the error does not name %q:\n%s", c.want, out)
			}
		})
	}
}

func TestIdentityHeadersStripped(t *testing.T) {
	e := testenv.StartBinary(t, binary, testenv.Options{})
	carol := e.Token(t, imageapi.DemoTenantC, "reader")
	spoofed := []string{
		"X-Roles", "admin", "x-roles", "admin", "X_Roles", "admin", "X.Roles", "admin",
		"X-Project-Id", imageapi.DemoTenantA, "X_Project_Id", imageapi.DemoTenantA,
		"X-Tenant-Id", imageapi.DemoTenantA, "X-User-Id", "root", "X-Identity-Status", "Confirmed",
		"X-Service-Roles", "admin", "X-Domain-Id", "default", "OpenStack-System-Scope", "all",
		"X-Is-Admin-Project", "True", "Connection", "X-Roles, X-Project-Id, X-Identity-Status",
	}
	resp, body := e.Request(t, "GET", "/v2/images/"+imageapi.DemoImagePrivateA, carol, nil, spoofed...)
	if resp.StatusCode != 404 {
		t.Fatalf("spoofed headers made carol see alice's private image: %d %s", resp.StatusCode, body)
	}
	resp, body = e.Request(t, "GET", "/v2/images?limit=5", carol, nil, spoofed...)
	if resp.StatusCode != 200 {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	var got imageapi.RecordedRequest
	for _, rr := range e.API.Requests() {
		if rr.Route == imageapi.RouteListImages {
			got = rr
		}
	}
	if got.Route == "" {
		t.Fatal("the upstream did not get the list")
	}
	want := map[string]string{
		"X-Roles": "reader", "X-Project-Id": imageapi.DemoTenantC, "X-Identity-Status": "Confirmed",
		"X-User-Id": "user-" + imageapi.DemoTenantC,
	}
	for k, v := range want {
		if vs := got.Header.Values(k); len(vs) != 1 || vs[0] != v {
			t.Errorf("upstream %s = %q, want exactly %q", k, vs, v)
		}
	}
	for name := range got.Header {
		n := strings.ToLower(name)
		if strings.ContainsAny(name, "_.") || strings.Contains(n, "domain") || strings.Contains(n, "system-scope") ||
			strings.Contains(n, "service") || strings.Contains(n, "tenant") || n == "x-is-admin-project" ||
			n == "x-auth-token" || n == "authorization" {
			t.Errorf("upstream received %s: %q", name, got.Header[name])
		}
	}
}

func TestUpstreamFaults(t *testing.T) {
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}()
	t.Run("down", func(t *testing.T) {
		e := testenv.Start(t, testenv.Options{UpstreamURL: closed})
		tok := e.Token(t, "1000", "member")
		for path, code := range map[string]string{"/v2/images": "upstream_error", "/v2/images/" + imageapi.DemoImageUbuntu: "enrichment_error"} {
			resp, body := e.Request(t, "GET", path, tok, nil)
			if resp.StatusCode != 502 || !strings.Contains(string(body), code) {
				t.Errorf("%s: %d %s", path, resp.StatusCode, body)
			}
		}
	})
	t.Run("slow", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		e := testenv.Start(t, testenv.Options{
			Upstream:  http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }),
			Configure: func(c *config.Config) { c.Upstream.ResponseHeaderTimeout = config.Duration(200 * time.Millisecond) },
		})
		resp, body := e.Request(t, "GET", "/v2/images", e.Token(t, "1000", "member"), nil)
		if resp.StatusCode != 504 || !strings.Contains(string(body), "upstream_timeout") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("unexpected list shape", func(t *testing.T) {
		for name, answer := range map[string]string{
			"not JSON":      "<html>oops</html>",
			"no images":     `{"items": []}`,
			"images object": `{"images": {}}`,
			"item without":  `{"images": [{"name": "x"}]}`,
		} {
			t.Run(name, func(t *testing.T) {
				e := testenv.Start(t, testenv.Options{Upstream: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					_, _ = io.WriteString(w, answer)
				})})
				resp, body := e.Request(t, "GET", "/v2/images", e.Token(t, "1000", "member"), nil)
				if resp.StatusCode != 502 || bytes.Contains(body, []byte(answer)) {
					t.Fatalf("%d %s", resp.StatusCode, body)
				}
			})
		}
	})
}

// streamingUpstream answers lookups for one image owned by tenant 1000 and streams
// size bytes of data both ways, counting what it received.
type streamingUpstream struct {
	size     int64
	received atomic.Int64
}

const streamImage = "00001000-0000-4000-8000-0000000000ff"

func (s *streamingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == "GET" && r.URL.Path == "/v2/images/"+streamImage:
		fmt.Fprintf(w, `{"id":%q,"owner":"1000","visibility":"private","status":"active"}`, streamImage)
	case r.Method == "PUT" && r.URL.Path == "/v2/images/"+streamImage+"/file":
		n, _ := io.Copy(io.Discard, r.Body)
		s.received.Store(n)
		w.WriteHeader(http.StatusNoContent)
	case r.Method == "GET" && r.URL.Path == "/v2/images/"+streamImage+"/file":
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(s.size, 10))
		_, _ = io.CopyN(w, zeros{}, s.size)
	default:
		http.NotFound(w, r)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestStreamsImageDataUnbuffered moves 512 MiB each way through the real binary and
// checks its resident memory stays far below that: image data is never buffered.
func TestStreamsImageDataUnbuffered(t *testing.T) {
	const size = 512 << 20
	up := &streamingUpstream{size: size}
	e := testenv.StartBinary(t, binary, testenv.Options{Upstream: up})
	tok := e.Token(t, "1000", "member")

	req, _ := http.NewRequest("PUT", e.ProxyURL+"/v2/images/"+streamImage+"/file", io.LimitReader(zeros{}, size))
	req.Header.Set("X-Auth-Token", tok)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || up.received.Load() != size {
		t.Fatalf("upload: %d, upstream received %d of %d bytes", resp.StatusCode, up.received.Load(), size)
	}

	req, _ = http.NewRequest("GET", e.ProxyURL+"/v2/images/"+streamImage+"/file", nil)
	req.Header.Set("X-Auth-Token", tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != size {
		t.Fatalf("download: %d bytes, %v", n, err)
	}

	rss := metricValue(t, e.AdminURL, "process_resident_memory_bytes")
	if rss == 0 || rss > 100<<20 {
		t.Fatalf("proxy RSS %.0f MiB after streaming 1 GiB: data was buffered", rss/(1<<20))
	}
	t.Logf("proxy RSS after streaming %d MiB each way: %.1f MiB", size>>20, rss/(1<<20))
}

// metricValue reads one sample (name with its labels, as exposed) from /metrics; a
// sample not exposed yet reads as 0.
func metricValue(t *testing.T, adminURL, name string) float64 {
	t.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") {
			v, err := strconv.ParseFloat(strings.TrimPrefix(line, name+" "), 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	return 0
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLinksPointAtTheProxy: the upstream builds absolute links from the Host it is
// called with; the client must get links to the proxy, never the upstream's address.
func TestLinksPointAtTheProxy(t *testing.T) {
	e := testenv.Start(t, testenv.Options{})
	tok := e.Token(t, "1000", "member")
	upstreamHost := strings.TrimPrefix(e.Upstream.URL, "http://")
	proxyHost := strings.TrimPrefix(e.ProxyURL, "http://")
	for _, path := range []string{"/", "/versions"} {
		resp, body := e.Request(t, "GET", path, tok, nil)
		if resp.StatusCode != 200 && resp.StatusCode != 300 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		if strings.Contains(string(body), upstreamHost) || !strings.Contains(string(body), proxyHost) {
			t.Fatalf("%s links: %s", path, body)
		}
	}
	resp, body := e.Request(t, "POST", "/v2/images", tok, strings.NewReader(`{"name":"x"}`), "Content-Type", "application/json")
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, e.ProxyURL+"/v2/images/") {
		t.Fatalf("Location %q does not point at the proxy", loc)
	}
}
