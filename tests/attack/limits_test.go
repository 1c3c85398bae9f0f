package attack

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/imageapi"
	"github.com/imagegate/imagegate/tests/testenv"
)

// Resource limits: each configurable (config.Limits), each with a safe default, each
// shown here to hold against the real binary.

func TestLimitDefaultsAreSafe(t *testing.T) {
	l := config.Default().Limits
	for name, ok := range map[string]bool{
		"max_header_bytes ≤ 64 KiB":    l.MaxHeaderBytes > 0 && l.MaxHeaderBytes <= 64<<10,
		"max_json_body_bytes ≤ 1 MiB":  l.MaxJSONBodyBytes > 0 && l.MaxJSONBodyBytes <= 1<<20,
		"max_response_bytes ≤ 64 MiB":  l.MaxResponseBytes > 0 && l.MaxResponseBytes <= 64<<20,
		"max_query_params ≤ 100":       l.MaxQueryParams > 0 && l.MaxQueryParams <= 100,
		"max_json_depth ≤ 64":          l.MaxJSONDepth > 0 && l.MaxJSONDepth <= 64,
		"max_in_flight set":            l.MaxInFlight > 0,
		"read_header_timeout ≤ 30s":    l.ReadHeaderTimeout > 0 && l.ReadHeaderTimeout.D() <= 30*time.Second,
		"body_read_timeout ≤ 60s":      l.BodyReadTimeout > 0 && l.BodyReadTimeout.D() <= time.Minute,
		"data_idle_timeout ≤ 5m":       l.DataIdleTimeout > 0 && l.DataIdleTimeout.D() <= 5*time.Minute,
		"idle_timeout ≤ 5m":            l.IdleTimeout > 0 && l.IdleTimeout.D() <= 5*time.Minute,
		"shutdown_timeout set":         l.ShutdownTimeout > 0,
		"response_header_timeout ≤ 1m": config.Default().Upstream.ResponseHeaderTimeout.D() <= time.Minute,
	} {
		if !ok {
			t.Errorf("default limit not safe: %s (%+v)", name, l)
		}
	}
	for _, bad := range []func(*config.Limits){
		func(l *config.Limits) { l.MaxJSONDepth = 0 },
		func(l *config.Limits) { l.BodyReadTimeout = 0 },
		func(l *config.Limits) { l.DataIdleTimeout = -1 },
	} {
		cfg := testenv.Setup(t, testenv.Options{NoSeed: true}).Config
		bad(&cfg.Limits)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "limits.") {
			t.Errorf("an invalid limit was accepted: %v", err)
		}
	}
}

func limitsProc(t *testing.T, upstream http.Handler, set func(*config.Limits)) *proc {
	t.Helper()
	return startProc(t, procOptions{Options: testenv.Options{
		Upstream:  upstream,
		Configure: func(c *config.Config) { set(&c.Limits) },
	}})
}

func TestLimitHeaderBytes(t *testing.T) {
	p := limitsProc(t, nil, func(l *config.Limits) { l.MaxHeaderBytes = 4096 })
	tok := p.Token(t, imageapi.DemoTenantB, "member")
	// net/http allows 4 KiB of slack over MaxHeaderBytes.
	resp, _, err := sendRaw(p.addr, get("/v2/images", "X-Auth-Token: "+tok, "X-Pad: "+strings.Repeat("a", 12<<10)).wire(p.addr))
	if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("oversized headers: %v %v", resp, err)
	}
	resp, _, err = sendRaw(p.addr, get("/v2/images", "X-Auth-Token: "+tok, "X-Pad: "+strings.Repeat("a", 1<<10)).wire(p.addr))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("headers within the limit: %v %v", resp, err)
	}
}

func TestLimitJSONBodyButNotImageData(t *testing.T) {
	p := limitsProc(t, nil, func(l *config.Limits) { l.MaxJSONBodyBytes = 1024 })
	tok := p.Token(t, imageapi.DemoTenantA, "member")
	resp, body := p.Request(t, "POST", "/v2/images", tok, strings.NewReader(`{"name":"`+strings.Repeat("a", 2048)+`"}`), "Content-Type", "application/json")
	if resp.StatusCode != 413 {
		t.Fatalf("2 KiB JSON over a 1 KiB limit: %d %s", resp.StatusCode, body)
	}
	checkJSONError(t, resp, body, 413, "body_too_large")
	resp, body = p.Request(t, "POST", "/v2/images", tok, strings.NewReader(`{"name":"small"}`), "Content-Type", "application/json")
	if resp.StatusCode != 201 {
		t.Fatalf("small JSON: %d %s", resp.StatusCode, body)
	}
	// Image data is not a JSON body: 256 KiB goes through.
	data := strings.Repeat("x", 256<<10)
	resp, body = p.Request(t, "PUT", "/v2/images/"+imageapi.DemoImageQueuedA+"/file", tok, strings.NewReader(data), "Content-Type", "application/octet-stream")
	if resp.StatusCode != 204 {
		t.Fatalf("upload of 256 KiB: %d %s", resp.StatusCode, body)
	}
}

func TestLimitJSONDepth(t *testing.T) {
	p := limitsProc(t, nil, func(l *config.Limits) { l.MaxJSONDepth = 4 })
	tok := p.Token(t, imageapi.DemoTenantA, "member")
	deep := `{"name":"x","a":[[[[["deep"]]]]]}`
	resp, body := p.Request(t, "POST", "/v2/images", tok, strings.NewReader(deep), "Content-Type", "application/json")
	checkJSONError(t, resp, body, 400, "bad_body")
	if !strings.Contains(string(body), "deeper than 4 levels") {
		t.Fatalf("the error does not name the limit: %s", body)
	}
	resp, body = p.Request(t, "POST", "/v2/images", tok, strings.NewReader(`{"name":"x","tags":["a"]}`), "Content-Type", "application/json")
	if resp.StatusCode != 201 {
		t.Fatalf("a shallow body: %d %s", resp.StatusCode, body)
	}
}

func TestLimitQueryParams(t *testing.T) {
	p := limitsProc(t, nil, func(l *config.Limits) { l.MaxQueryParams = 5 })
	tok := p.Token(t, imageapi.DemoTenantA, "member")
	resp, body := p.Request(t, "GET", "/v2/images?tag=a&tag=b&tag=c&tag=d&tag=e&tag=f", tok, nil)
	checkJSONError(t, resp, body, 400, "too_many_params")
	resp, body = p.Request(t, "GET", "/v2/images?tag=a&tag=b&tag=c&tag=d&limit=1", tok, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("5 parameters: %d %s", resp.StatusCode, body)
	}
}

// Slowloris on headers: a client that never finishes its headers is disconnected.
func TestLimitReadHeaderTimeout(t *testing.T) {
	p := limitsProc(t, nil, func(l *config.Limits) { l.ReadHeaderTimeout = config.Duration(300 * time.Millisecond) })
	conn := dial(t, p.addr)
	start := time.Now()
	_, _ = io.WriteString(conn, "GET /v2/images HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	for i := 0; i < 30; i++ {
		if _, err := io.WriteString(conn, "a"); err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := waitClosed(conn, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("a slowloris client was held %s", d)
	}
}

// An idle keep-alive connection is closed after idle_timeout.
func TestLimitIdleTimeout(t *testing.T) {
	p := limitsProc(t, nil, func(l *config.Limits) { l.IdleTimeout = config.Duration(300 * time.Millisecond) })
	conn := dial(t, p.addr)
	tok := p.Token(t, imageapi.DemoTenantA, "member")
	fmt.Fprintf(conn, "GET /versions HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\n\r\n", tok)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v %v", resp, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	time.Sleep(800 * time.Millisecond)
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("the idle connection is still open")
	}
}

// A client dripping a JSON body is answered 408 after body_read_timeout; nothing reaches
// the upstream.
func TestLimitSlowJSONBody(t *testing.T) {
	p := limitsProc(t, nil, func(l *config.Limits) { l.BodyReadTimeout = config.Duration(400 * time.Millisecond) })
	tok := p.Token(t, imageapi.DemoTenantA, "member")
	conn := dial(t, p.addr)
	fmt.Fprintf(conn, "POST /v2/images HTTP/1.1\r\nHost: x\r\nX-Request-Id: slow-json\r\nX-Auth-Token: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na", tok)
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a slow body: %v; log:\n%s", err, p.log.String())
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || time.Since(start) > 3*time.Second {
		t.Fatalf("slow body: %d after %s: %s", resp.StatusCode, time.Since(start), body)
	}
	checkJSONError(t, resp, body, 408, "request_timeout")
	if ev, ok := p.event(t, "slow-json"); !ok || ev.Result.Status != 408 {
		t.Fatalf("decision event %+v %v", ev.Result, ok)
	}
	if p.API.Stats().Count(imageapi.RouteCreateImage) != 0 {
		t.Fatal("the upstream received the create")
	}
}

// An upload that stalls is cut at the upstream too: the image is not left active.
func TestLimitStalledUpload(t *testing.T) {
	p := limitsProc(t, nil, func(l *config.Limits) { l.DataIdleTimeout = config.Duration(400 * time.Millisecond) })
	tok := p.Token(t, imageapi.DemoTenantA, "member")
	conn := dial(t, p.addr)
	fmt.Fprintf(conn, "PUT /v2/images/%s/file HTTP/1.1\r\nHost: x\r\nX-Request-Id: stalled-upload\r\nX-Auth-Token: %s\r\n"+
		"Content-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n", imageapi.DemoImageQueuedA, tok)
	_, _ = conn.Write(make([]byte, 64<<10))
	// Then nothing: the proxy must give up on its own.
	ev, ok := p.event(t, "stalled-upload")
	if !ok {
		t.Fatal("no decision event for a stalled upload")
	}
	if ev.Result.Status < 400 {
		t.Fatalf("a stalled upload was recorded as %+v", ev.Result)
	}
	assertNotActive(t, p, imageapi.DemoImageQueuedA)
}

// A client that stops reading a download is cut after data_idle_timeout.
func TestLimitSlowDownloadReader(t *testing.T) {
	up := &bigDownload{size: 256 << 20}
	p := limitsProc(t, up, func(l *config.Limits) { l.DataIdleTimeout = config.Duration(400 * time.Millisecond) })
	tok := p.Token(t, "1000", "member")
	conn := dial(t, p.addr)
	fmt.Fprintf(conn, "GET /v2/images/%s/file HTTP/1.1\r\nHost: x\r\nX-Request-Id: slow-reader\r\nX-Auth-Token: %s\r\n\r\n", streamImage, tok)
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	// Read nothing.
	ev, ok := p.event(t, "slow-reader")
	if !ok {
		t.Fatal("the proxy still holds a download nobody reads")
	}
	if ev.Result.Code != "stream_aborted" {
		t.Fatalf("decision event of a cut download: %+v", ev.Result)
	}
	if n := metric(t, p.AdminURL, "imagegate_in_flight_requests"); n != 0 {
		t.Fatalf("%v requests still in flight", n)
	}
}

// An upstream that stalls in the middle of an answer the proxy must read (a list it
// filters) is answered 504 after data_idle_timeout; one that stalls mid-download is cut.
func TestLimitStalledUpstream(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/images/"+streamImage:
			fmt.Fprintf(w, `{"id":%q,"owner":"1000","visibility":"private","status":"active"}`, streamImage)
			return
		case strings.HasSuffix(r.URL.Path, "/file"):
			w.Header().Set("Content-Length", "1000000")
		default:
			w.Header().Set("Content-Type", "application/json")
		}
		_, _ = io.WriteString(w, `{"images": [`)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	p := limitsProc(t, up, func(l *config.Limits) { l.DataIdleTimeout = config.Duration(400 * time.Millisecond) })
	tok := p.Token(t, "1000", "member")
	start := time.Now()
	resp, body := p.Request(t, "GET", "/v2/images", tok, nil)
	if resp.StatusCode != http.StatusGatewayTimeout || time.Since(start) > 3*time.Second {
		t.Fatalf("a stalled list: %d after %s: %s", resp.StatusCode, time.Since(start), body)
	}
	checkJSONError(t, resp, body, 504, "upstream_timeout")

	req, _ := http.NewRequest("GET", p.ProxyURL+"/v2/images/"+streamImage+"/file", nil)
	req.Header.Set("X-Auth-Token", tok)
	dresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(dresp.Body)
	dresp.Body.Close()
	if err == nil {
		t.Fatal("a download the upstream stalled ended as if complete")
	}
	if ev, ok := p.event(t, dresp.Header.Get("X-Request-Id")); !ok || ev.Result.Code != "stream_aborted" {
		t.Fatalf("decision event of a stalled download: %+v", ev.Result)
	}
}

// max_in_flight: a burst beyond it is refused at once with 503, Retry-After and an event.
func TestLimitMaxInFlight(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	var once sync.Once
	defer once.Do(func() { close(release) })
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"images": []}`)
	})
	p := limitsProc(t, up, func(l *config.Limits) { l.MaxInFlight = 2 })
	tok := p.Token(t, "1000", "member")
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Go(func() {
			resp, body, err := p.Do("GET", "/v2/images", tok, nil)
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("held request: %v %s", err, body)
			}
		})
	}
	<-entered
	<-entered
	resp, body := p.Request(t, "GET", "/v2/images", tok, nil, "X-Request-Id", "over-limit")
	checkJSONError(t, resp, body, 503, "overloaded")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if ev, ok := p.event(t, "over-limit"); !ok || ev.Result.Status != 503 {
		t.Errorf("decision event %+v %v", ev.Result, ok)
	}
	once.Do(func() { close(release) })
	wg.Wait()
}

// bigDownload serves one image of tenant 1000 whose data is size zero bytes.
type bigDownload struct{ size int64 }

func (b *bigDownload) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v2/images/" + streamImage:
		fmt.Fprintf(w, `{"id":%q,"owner":"1000","visibility":"private","status":"active"}`, streamImage)
	case "/v2/images/" + streamImage + "/file":
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(b.size))
		buf := make([]byte, 32<<10)
		for n := int64(0); n < b.size; n += int64(len(buf)) {
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	default:
		http.NotFound(w, r)
	}
}

const streamImage = "00001000-0000-4000-8000-0000000000ff"

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitClosed waits until the server closes conn (reads fail), discarding what it sends.
func waitClosed(conn net.Conn, within time.Duration) error {
	_ = conn.SetReadDeadline(time.Now().Add(within))
	buf := make([]byte, 4096)
	for {
		if _, err := conn.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return fmt.Errorf("the connection is still open after %s", within)
			}
			return nil
		}
	}
}

// assertNotActive fails when the image became active (a partial upload taken as done).
func assertNotActive(t *testing.T, p *proc, id string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		resp, body := p.Request(t, "GET", "/v2/images/"+id, p.Token(t, imageapi.DemoTenantA, "member"), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("image %s: %d %s", id, resp.StatusCode, body)
		}
		if strings.Contains(string(body), `"status":"active"`) {
			t.Fatalf("a cut upload left image %s active: %s", id, body)
		}
		if strings.Contains(string(body), `"status":"queued"`) || time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLimitMaxInFlightData: image data transfers beyond max_in_flight_data are refused
// 503 while other requests still pass, and the place frees when a transfer ends.
func TestLimitMaxInFlightData(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	var once sync.Once
	defer once.Do(func() { close(release) })
	held := true
	var mu sync.Mutex
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/images":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"images": []}`)
		case "/v2/images/" + streamImage:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":%q,"owner":"1000","visibility":"private","status":"active"}`, streamImage)
		case "/v2/images/" + streamImage + "/file":
			mu.Lock()
			hold := held
			mu.Unlock()
			if hold {
				entered <- struct{}{}
				<-release
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = io.WriteString(w, "image data")
		default:
			http.NotFound(w, r)
		}
	})
	p := limitsProc(t, up, func(l *config.Limits) { l.MaxInFlight, l.MaxInFlightData = 10, 1 })
	tok := p.Token(t, "1000", "member")
	var wg sync.WaitGroup
	wg.Go(func() {
		resp, body, err := p.Do("GET", "/v2/images/"+streamImage+"/file", tok, nil)
		if err != nil || resp.StatusCode != 200 || string(body) != "image data" {
			t.Errorf("held download: %v %s", err, body)
		}
	})
	<-entered
	resp, body := p.Request(t, "GET", "/v2/images/"+streamImage+"/file", tok, nil, "X-Request-Id", "data-over-limit")
	checkJSONError(t, resp, body, 503, "overloaded")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if ev, ok := p.event(t, "data-over-limit"); !ok || ev.Result.Status != 503 {
		t.Errorf("decision event %+v %v", ev.Result, ok)
	}
	resp, body = p.Request(t, "PUT", "/v2/images/"+streamImage+"/file", tok, strings.NewReader("data"), "Content-Type", "application/octet-stream")
	checkJSONError(t, resp, body, 503, "overloaded")
	if resp, body := p.Request(t, "GET", "/v2/images", tok, nil); resp.StatusCode != 200 {
		t.Errorf("a list while the data transfers are full: %d %s", resp.StatusCode, body)
	}
	if resp, body := p.Request(t, "GET", "/v2/images/"+streamImage, tok, nil); resp.StatusCode != 200 {
		t.Errorf("an image record while the data transfers are full: %d %s", resp.StatusCode, body)
	}
	mu.Lock()
	held = false
	mu.Unlock()
	once.Do(func() { close(release) })
	wg.Wait()
	if resp, body := p.Request(t, "GET", "/v2/images/"+streamImage+"/file", tok, nil); resp.StatusCode != 200 || string(body) != "image data" {
		t.Errorf("a download after the held one ended: %d %s", resp.StatusCode, body)
	}
}
