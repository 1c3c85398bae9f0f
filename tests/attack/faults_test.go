package attack

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/imagegate/imagegate/audit"
	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/imageapi"
	"github.com/imagegate/imagegate/tests/testenv"
)

// Faults imagegate must survive: every one answered with a clean JSON error or absorbed,
// none answered with something the policy did not decide, none losing a decision event
// silently.

// An upstream that accepts connections and resets them at once.
func TestFaultUpstreamResetsConnections(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.Close()
		}
	}()
	p := startProc(t, procOptions{Options: testenv.Options{UpstreamURL: "http://" + l.Addr().String()}})
	tok := p.Token(t, "1000", "member")
	for path, typ := range map[string]string{"/v2/images": "upstream_error", "/v2/images/" + imageapi.DemoImageUbuntu: "enrichment_error"} {
		resp, body := p.Request(t, "GET", path, tok, nil, "X-Request-Id", "reset-"+typ)
		checkJSONError(t, resp, body, 502, typ)
		if ev, ok := p.event(t, "reset-"+typ); !ok || ev.Result.Status != 502 || ev.Result.Allow {
			t.Errorf("decision event %+v %v", ev.Result, ok)
		}
	}
	if n := metric(t, p.AdminURL, "imagegate_in_flight_requests"); n != 0 {
		t.Errorf("%v requests left in flight", n)
	}
}

// jwksServer serves the issuer's key set, or garbage, or nothing, counting fetches.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int64
	mu      sync.Mutex
	body    []byte
	status  int
}

func newJWKSServer(t *testing.T) *jwksServer {
	s := &jwksServer{status: 200}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body, status := s.body, s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(status int, body []byte) {
	s.mu.Lock()
	s.status, s.body = status, body
	s.mu.Unlock()
}

// jwksProc runs the binary with the test issuer's keys behind a JWKS URL.
func jwksProc(t *testing.T, js *jwksServer, refresh time.Duration) *proc {
	t.Helper()
	return startProc(t, procOptions{Options: testenv.Options{Configure: func(c *config.Config) {
		ic := &c.Auth.Issuers[0]
		keys, err := os.ReadFile(ic.KeyFiles[0].Path)
		if err != nil {
			t.Fatal(err)
		}
		js.serve(200, keys)
		ic.KeyFiles = nil
		ic.JWKSURL = js.URL + "/jwks.json"
		ic.RefreshInterval = authn.Duration(refresh)
		c.Auth.Cache.MaxEntries = 0 // every request verifies its token against the keys
	}}})
}

// The JWKS endpoint failing or serving garbage never wipes out the keys that work.
func TestFaultJWKSDownOrGarbage(t *testing.T) {
	js := newJWKSServer(t)
	p := jwksProc(t, js, 100*time.Millisecond)
	tok := p.Token(t, "1000", "member")
	check := func(what string) {
		t.Helper()
		resp, body := p.Request(t, "GET", "/v2/images?limit=1", tok, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: a valid token answered %d %s", what, resp.StatusCode, body)
		}
	}
	check("JWKS up")
	for _, fault := range []struct {
		name   string
		status int
		body   string
	}{
		{"garbage", 200, "<html>not a key set</html>"},
		{"no usable key", 200, `{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}`},
		{"empty set", 200, `{"keys": []}`},
		{"server error", 503, `{}`},
	} {
		js.serve(fault.status, []byte(fault.body))
		before := js.fetches.Load()
		deadline := time.Now().Add(5 * time.Second)
		for js.fetches.Load() < before+2 {
			if time.Now().After(deadline) {
				t.Fatalf("JWKS %s: the proxy did not fetch the key set again within 5 s (%d fetches)", fault.name, js.fetches.Load()-before)
			}
			time.Sleep(20 * time.Millisecond)
		}
		check("JWKS " + fault.name)
	}
	js.Close()
	time.Sleep(300 * time.Millisecond)
	check("JWKS down")
	// A key nobody has: refused as a token problem, never a 5xx.
	other := signAs(t, jwt.SigningMethodRS256, attackerKey, map[string]any{"kid": "rotated-in"}, claimsFor("1000", "member"))
	resp, body := p.Request(t, "GET", "/v2/images", other, nil)
	if resp.StatusCode != 401 {
		t.Fatalf("unknown kid with the JWKS down: %d %s", resp.StatusCode, body)
	}
}

// A flood of tokens naming unknown kids costs the identity provider at most one
// refresh per min_refresh_interval (default one minute).
func TestFaultUnknownKidFlood(t *testing.T) {
	js := newJWKSServer(t)
	p := jwksProc(t, js, 0)
	startFetches := js.fetches.Load()
	var wg sync.WaitGroup
	var refused, other atomic.Int64
	// Signed here: t.Fatal may not be called from the workers.
	var tokens [8][40]string
	for w := range tokens {
		for i := range tokens[w] {
			tokens[w][i] = signAs(t, jwt.SigningMethodRS256, attackerKey, map[string]any{"kid": fmt.Sprintf("flood-%d-%d", w, i)}, claimsFor("1000", "member"))
		}
	}
	for w := 0; w < 8; w++ {
		wg.Go(func() {
			for i := 0; i < 40; i++ {
				tk := tokens[w][i]
				req, _ := http.NewRequest("GET", p.ProxyURL+"/v2/images", nil)
				req.Header.Set("X-Auth-Token", tk)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					other.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 401 {
					refused.Add(1)
				} else {
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if refused.Load() != 320 || other.Load() != 0 {
		t.Fatalf("%d refused, %d otherwise answered", refused.Load(), other.Load())
	}
	if n := js.fetches.Load() - startFetches; n > 1 {
		t.Fatalf("320 unknown kids caused %d JWKS fetches, want at most 1", n)
	}
	// The valid token still works throughout.
	if resp, body := p.Request(t, "GET", "/v2/images?limit=1", p.Token(t, "1000", "member"), nil); resp.StatusCode != 200 {
		t.Fatalf("valid token after the flood: %d %s", resp.StatusCode, body)
	}
}

// A decision-log sink that cannot be written to never fails or delays requests; every
// lost event is counted.
func TestFaultDecisionLogSinkFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this machine")
	}
	p := startProc(t, procOptions{KeepSink: true, Options: testenv.Options{Configure: func(c *config.Config) {
		c.Audit.Sink, c.Audit.File = "file", "/dev/full"
	}}})
	tok := p.Token(t, "1000", "member")
	start := time.Now()
	for i := 0; i < 50; i++ {
		if resp, body := p.Request(t, "GET", "/v2/images?limit=1", tok, nil); resp.StatusCode != 200 {
			t.Fatalf("request %d with the log sink failing: %d %s", i, resp.StatusCode, body)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("50 requests took %s with the sink failing", d)
	}
	waitMetric(t, p.AdminURL, "imagegate_decision_log_dropped_total", 50)
	// The loss is not silent at exit either: the process says so and exits non-zero.
	p.exitChecked = true
	if err := p.stop(20 * time.Second); err == nil || !strings.Contains(p.log.String(), "no space left on device") {
		t.Fatalf("exit %v after losing events; log:\n%s", err, p.log.String())
	}
}

// A decision-log collector that is down: requests are served, events wait in the
// buffer, and are delivered once the collector is back.
func TestFaultDecisionLogCollectorDown(t *testing.T) {
	var up atomic.Bool
	var mu sync.Mutex
	var got []audit.Event
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var rd io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			rd = zr
		}
		var evs []audit.Event
		if err := json.NewDecoder(rd).Decode(&evs); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		got = append(got, evs...)
		mu.Unlock()
	}))
	defer collector.Close()
	p := startProc(t, procOptions{KeepSink: true, Options: testenv.Options{Configure: func(c *config.Config) {
		c.Audit.Sink, c.Audit.URL = "http", collector.URL+"/logs"
	}}})
	tok := p.Token(t, "1000", "member")
	for i := 0; i < 30; i++ {
		if resp, body := p.Request(t, "GET", "/v2/images?limit=1", tok, nil, "X-Request-Id", fmt.Sprintf("while-down-%d", i)); resp.StatusCode != 200 {
			t.Fatalf("request with the collector down: %d %s", resp.StatusCode, body)
		}
	}
	up.Store(true)
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := 0
		for _, ev := range got {
			if strings.HasPrefix(ev.RequestID, "while-down-") {
				n++
			}
		}
		mu.Unlock()
		if n == 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 30 events delivered after the collector came back", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := metric(t, p.AdminURL, "imagegate_decision_log_dropped_total"); n != 0 {
		t.Fatalf("%v events dropped", n)
	}
}

// SIGTERM during uploads: the uploads in flight finish, new connections are refused,
// the decision log has their events, the process exits 0.
func TestFaultSIGTERMDuringUploads(t *testing.T) {
	up := &countingUpload{}
	p := startProc(t, procOptions{Options: testenv.Options{Upstream: up, Configure: func(c *config.Config) {
		c.Limits.ShutdownTimeout = config.Duration(20 * time.Second)
	}}})
	tok := p.Token(t, "1000", "member")
	const size = 2 << 20
	var wg sync.WaitGroup
	statuses := make([]int, 3)
	for i := range statuses {
		wg.Go(func() {
			body := &slowReader{remaining: size, chunk: 64 << 10, pause: 40 * time.Millisecond}
			req, _ := http.NewRequest("PUT", p.ProxyURL+"/v2/images/"+streamImage+"/file", body)
			req.ContentLength = size
			req.Header.Set("X-Auth-Token", tok)
			req.Header.Set("Content-Type", "application/octet-stream")
			req.Header.Set("X-Request-Id", fmt.Sprintf("upload-%d", i))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("upload %d: %v", i, err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	// Wait until all three are streaming, then ask the process to stop.
	deadline := time.Now().Add(5 * time.Second)
	for up.started.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- p.stop(30 * time.Second) }()
	time.Sleep(200 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
		c.Close()
		t.Error("the listener still accepts connections after SIGTERM")
	}
	wg.Wait()
	if err := <-stopped; err != nil {
		t.Fatalf("exit after SIGTERM: %v; log:\n%s", err, p.log.String())
	}
	for i, s := range statuses {
		if s != 204 {
			t.Errorf("upload %d answered %d", i, s)
		}
	}
	if n := up.complete.Load(); n != 3 {
		t.Fatalf("the upstream received %d complete uploads of 3", n)
	}
	for i := range statuses {
		found := false
		for _, ev := range p.events(t) {
			if ev.RequestID == fmt.Sprintf("upload-%d", i) && ev.Result.Status == 204 {
				found = true
			}
		}
		if !found {
			t.Errorf("no decision event for upload %d after shutdown", i)
		}
	}
}

// An upload the client abandons halfway is cut at the upstream too: the upstream sees
// an incomplete body and the image is not made active.
func TestFaultClientAbortsUpload(t *testing.T) {
	p := startProc(t, procOptions{})
	tok := p.Token(t, imageapi.DemoTenantA, "member")
	for _, framing := range []string{"content-length", "chunked"} {
		t.Run(framing, func(t *testing.T) {
			created, body := p.Request(t, "POST", "/v2/images", tok, strings.NewReader(`{"name":"half","disk_format":"raw","container_format":"bare"}`), "Content-Type", "application/json")
			if created.StatusCode != 201 {
				t.Fatalf("create: %d %s", created.StatusCode, body)
			}
			var img struct{ ID string }
			if err := json.Unmarshal(body, &img); err != nil || img.ID == "" {
				t.Fatalf("create answered %s: %v", body, err)
			}
			conn := dial(t, p.addr)
			rid := "abandoned-" + framing
			head := fmt.Sprintf("PUT /v2/images/%s/file HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\nX-Auth-Token: %s\r\nContent-Type: application/octet-stream\r\n", img.ID, rid, tok)
			if framing == "chunked" {
				fmt.Fprintf(conn, "%sTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", head, 64<<10, strings.Repeat("x", 64<<10))
			} else {
				fmt.Fprintf(conn, "%sContent-Length: %d\r\n\r\n%s", head, 1<<20, strings.Repeat("x", 64<<10))
			}
			time.Sleep(100 * time.Millisecond)
			conn.Close()
			ev, ok := p.event(t, rid)
			if !ok {
				t.Fatal("no decision event for an abandoned upload")
			}
			if ev.Result.Status < 400 && ev.Result.Status != 0 {
				t.Fatalf("an abandoned upload was recorded as %+v", ev.Result)
			}
			assertNotActive(t, p, img.ID)
		})
	}
}

// countingUpload is an upstream for streamImage that counts uploads started and
// completed in full.
type countingUpload struct {
	started, complete atomic.Int64
}

func (c *countingUpload) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == "GET" && r.URL.Path == "/v2/images/"+streamImage:
		fmt.Fprintf(w, `{"id":%q,"owner":"1000","visibility":"private","status":"queued"}`, streamImage)
	case r.Method == "PUT":
		c.started.Add(1)
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil || n != r.ContentLength {
			http.Error(w, "incomplete", 400)
			return
		}
		c.complete.Add(1)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

// slowReader yields remaining zero bytes, chunk at a time, pausing between chunks.
type slowReader struct {
	remaining, chunk int
	pause            time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.remaining == 0 {
		return 0, io.EOF
	}
	time.Sleep(s.pause)
	n := min(len(p), s.chunk, s.remaining)
	clear(p[:n])
	s.remaining -= n
	return n, nil
}

// waitMetric waits until a metric reaches at least want.
func waitMetric(t *testing.T, adminURL, name string, want float64, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v := metric(t, adminURL, name, labels...)
		if v >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want at least %v", name, v, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SIGTERM while an upload outlasts shutdown_timeout: the upload is cut — at the client
// (no success answer) and at the upstream (incomplete body) — and not silently: its
// decision event is written before the log is flushed, and the process says how many
// requests it cut and exits non-zero.
func TestFaultSIGTERMCutsLongUpload(t *testing.T) {
	up := &countingUpload{}
	p := startProc(t, procOptions{Options: testenv.Options{Upstream: up, Configure: func(c *config.Config) {
		c.Limits.ShutdownTimeout = config.Duration(500 * time.Millisecond)
	}}})
	tok := p.Token(t, "1000", "member")
	done := make(chan int, 1)
	go func() {
		body := &slowReader{remaining: 4 << 20, chunk: 32 << 10, pause: 50 * time.Millisecond}
		req, _ := http.NewRequest("PUT", p.ProxyURL+"/v2/images/"+streamImage+"/file", body)
		req.ContentLength = 4 << 20
		req.Header.Set("X-Auth-Token", tok)
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("X-Request-Id", "long-upload")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	deadline := time.Now().Add(5 * time.Second)
	for up.started.Load() < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.exitChecked = true
	err := p.stop(20 * time.Second)
	if status := <-done; status >= 200 && status < 300 {
		t.Fatalf("an upload cut by shutdown answered %d", status)
	}
	if up.complete.Load() != 0 {
		t.Fatal("the upstream took a cut upload as complete")
	}
	if err == nil || !strings.Contains(p.log.String(), "cut") {
		t.Fatalf("shutdown cut an upload silently: exit %v; log:\n%s", err, p.log.String())
	}
	ev, ok := p.event(t, "long-upload")
	if !ok {
		t.Fatalf("no decision event for the cut upload; log:\n%s", p.log.String())
	}
	if ev.Result.Status < 400 && ev.Result.Code == "" {
		t.Fatalf("the cut upload was recorded as %+v", ev.Result)
	}
}
