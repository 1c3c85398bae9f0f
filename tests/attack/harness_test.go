package attack

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/imagegate/imagegate/audit"
	"github.com/imagegate/imagegate/tests/testenv"
)

// proc is the real imagegate binary, run by a test with a handle on the process: the
// corpus sends raw bytes to it, the fault tests signal it and read what it logged.
type proc struct {
	*testenv.Env
	cmd       *exec.Cmd
	addr      string // host:port of the proxy listener
	auditPath string
	exited    chan error
	log       *testenv.SyncBuffer
	stopOnce  sync.Once
	stopErr   error
	// exitChecked: the test has checked the exit itself.
	exitChecked bool
}

// procOptions shape a process beyond testenv.Options.
type procOptions struct {
	testenv.Options
	// Stdout receives the process's standard output (the decision log when audit.sink
	// is stdout); nil discards it.
	Stdout io.Writer
	// KeepSink keeps the configured audit sink instead of a decision-log file.
	KeepSink bool
}

// startProc runs the binary with the environment's configuration written to a file and
// stops it (SIGTERM) at the end of the test, requiring a clean exit.
func startProc(t *testing.T, o procOptions) *proc {
	t.Helper()
	e := testenv.Setup(t, o.Options)
	p := &proc{Env: e, exited: make(chan error, 1), log: &testenv.SyncBuffer{}}
	if !o.KeepSink {
		p.auditPath = filepath.Join(t.TempDir(), "decisions.jsonl")
		e.Config.Audit.Sink, e.Config.Audit.File = "file", p.auditPath
	}
	e.Config.Log.Level = "info"
	raw, err := yaml.Marshal(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "imagegate.yaml")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(binary, "serve", "--config", cfgPath)
	p.cmd.Env = os.Environ()
	p.cmd.Stdout = o.Stdout
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", binary, err)
	}
	addrs := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Bytes()
			p.log.Write(append(append([]byte(nil), line...), '\n'))
			var rec struct {
				Msg         string `json:"msg"`
				Listen      string `json:"listen"`
				AdminListen string `json:"admin_listen"`
			}
			if !sent && json.Unmarshal(line, &rec) == nil && rec.Msg == "imagegate serving" {
				addrs <- [2]string{rec.Listen, rec.AdminListen}
				sent = true
			}
		}
		close(addrs)
		p.exited <- p.cmd.Wait()
	}()
	select {
	case a, ok := <-addrs:
		if !ok {
			err := <-p.exited
			t.Fatalf("imagegate exited (%v) before serving; log:\n%s", err, p.log.String())
		}
		p.addr = a[0]
		e.ProxyURL, e.AdminURL = "http://"+a[0], "http://"+a[1]
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatalf("imagegate did not start within 30s; log:\n%s", p.log.String())
	}
	t.Cleanup(func() {
		if err := p.stop(20 * time.Second); err != nil && !p.exitChecked {
			t.Errorf("imagegate exit: %v; log:\n%s", err, p.log.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits for the exit; a graceful stop exits 0.
func (p *proc) stop(wait time.Duration) error {
	p.stopOnce.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case p.stopErr = <-p.exited:
		case <-time.After(wait):
			_ = p.cmd.Process.Kill()
			p.stopErr = fmt.Errorf("imagegate did not stop within %s of SIGTERM", wait)
		}
	})
	return p.stopErr
}

// events returns the decision events in the log file so far.
func (p *proc) events(t *testing.T) []audit.Event {
	t.Helper()
	raw, err := os.ReadFile(p.auditPath)
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("read decision log: %v", err)
	}
	return testenv.ParseEvents(t, raw)
}

// event waits briefly for the decision event of requestID (the log is asynchronous).
func (p *proc) event(t *testing.T, requestID string) (audit.Event, bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, ev := range p.events(t) {
			if ev.RequestID == requestID {
				return ev, true
			}
		}
		if time.Now().After(deadline) {
			return audit.Event{}, false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawRequest is a request written byte for byte: net/http's client would clean up most
// of what the corpus sends.
type rawRequest struct {
	Method string
	Target string
	// Header lines, "Name: value", sent as given and in order.
	Header []string
	Body   string
	// NoLength leaves out the Content-Length the body would otherwise get.
	NoLength bool
}

// wire renders the request; Host and Connection: close are added unless given.
func (r rawRequest) wire(host string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", r.Method, r.Target)
	hasHost := false
	for _, h := range r.Header {
		if strings.HasPrefix(strings.ToLower(h), "host:") {
			hasHost = true
		}
	}
	if !hasHost {
		fmt.Fprintf(&b, "Host: %s\r\n", host)
	}
	for _, h := range r.Header {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	if r.Body != "" && !r.NoLength {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.Body))
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.WriteString(r.Body)
	return b.String()
}

// sendRaw writes wire to addr and reads one response.
func sendRaw(addr, wire string) (*http.Response, []byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(conn, wire); err != nil {
		return nil, nil, err
	}
	method, _, _ := strings.Cut(wire, " ")
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// metric returns the sum of the samples of a Prometheus metric whose label set contains
// every given "name=\"value\"" fragment.
func metric(t *testing.T, adminURL, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(line, l) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// errorBody is the JSON error every refusal carries.
type errorBody struct {
	Error struct {
		Code      int    `json:"code"`
		Title     string `json:"title"`
		Message   string `json:"message"`
		Type      string `json:"type"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

// checkJSONError fails unless body is imagegate's JSON error for status and type.
func checkJSONError(t *testing.T, resp *http.Response, body []byte, status int, typ string) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error answer has Content-Type %q: %.300s", ct, body)
		return
	}
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err != nil {
		t.Errorf("error answer is not JSON: %v: %.300s", err, body)
		return
	}
	if eb.Error.Code != status || eb.Error.Title != http.StatusText(status) || eb.Error.Message == "" {
		t.Errorf("error body %s does not describe a %d", body, status)
	}
	if typ != "" && eb.Error.Type != typ {
		t.Errorf("error type %q, want %q (%s)", eb.Error.Type, typ, eb.Error.Message)
	}
}
