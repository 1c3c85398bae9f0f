// Package testenv starts imagegate for tests: an in-memory image API as the upstream, a
// token issuer with a key made for the test, and the proxy itself, either in the test's
// process or as the real binary. Everything binds to 127.0.0.1 and is torn down by
// t.Cleanup.
package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.yaml.in/yaml/v3"

	"github.com/imagegate/imagegate/audit"
	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/imageapi"
	"github.com/imagegate/imagegate/server"
)

// Issuer and Audience of the test tokens.
const (
	Issuer   = "https://issuer.test"
	Audience = "imagegate"
)

// Options shape an environment.
type Options struct {
	// Mode is the upstream mode (delegated by default). Service mode runs the image API
	// naive, so that only the proxy stands between tenants.
	Mode string
	// Naive runs the image API in naive mode whatever the mode.
	Naive bool
	// NoSeed starts with an empty image API instead of the demo fixture.
	NoSeed bool
	// Configure changes the configuration before the proxy starts.
	Configure func(*config.Config)
	// Upstream replaces the in-memory image API (fault injection).
	Upstream http.Handler
	// UpstreamURL points the proxy at an upstream running elsewhere (a real Glance);
	// the in-memory API is then not started.
	UpstreamURL string
	// Dialect gcore starts the in-memory v1 API (seeded with the v1 demo fixture) and
	// configures the proxy for it, with reseller limits read from the upstream and the
	// client_id claim mapped; empty or glance is the Glance setup.
	Dialect string
}

// Env is a running proxy with its upstream and issuer.
type Env struct {
	API *imageapi.API
	// Gcore is the in-memory v1 API of a gcore environment.
	Gcore    *imageapi.GcoreAPI
	Upstream *httptest.Server
	Signer   *authn.Signer
	Config   config.Config
	ProxyURL string
	AdminURL string
	// KeyFile is the issuer's public JWKS on disk.
	KeyFile   string
	audit     *SyncBuffer
	auditPath string
}

// Setup builds the configuration and the upstream without starting a proxy.
func Setup(t testing.TB, o Options) *Env {
	t.Helper()
	mode := o.Mode
	if mode == "" {
		mode = config.ModeDelegated
	}
	apiMode := imageapi.Enforcing
	if o.Naive || mode == config.ModeService {
		apiMode = imageapi.Naive
	}
	e := &Env{audit: &SyncBuffer{}}
	upstreamURL := o.UpstreamURL
	if upstreamURL == "" && o.Dialect == config.DialectGcore {
		e.Gcore = imageapi.NewGcore(imageapi.Options{Mode: apiMode})
		if !o.NoSeed {
			if err := e.Gcore.SeedGcore(imageapi.GcoreDemoFixture()); err != nil {
				t.Fatalf("seed: %v", err)
			}
		}
		var h http.Handler = e.Gcore
		if o.Upstream != nil {
			h = o.Upstream
		}
		e.Upstream = httptest.NewServer(h)
		t.Cleanup(e.Upstream.Close)
		upstreamURL = e.Upstream.URL
	}
	if upstreamURL == "" {
		e.API = imageapi.New(imageapi.Options{Mode: apiMode})
		if !o.NoSeed {
			if err := e.API.Seed(imageapi.DemoFixture()); err != nil {
				t.Fatalf("seed: %v", err)
			}
		}
		var h http.Handler = e.API
		if o.Upstream != nil {
			h = o.Upstream
		}
		e.Upstream = httptest.NewServer(h)
		t.Cleanup(e.Upstream.Close)
		upstreamURL = e.Upstream.URL
	}

	signer, err := authn.NewRSASigner("test-1")
	if err != nil {
		t.Fatal(err)
	}
	e.Signer = signer
	jwks, err := signer.PublicJWKS()
	if err != nil {
		t.Fatal(err)
	}
	e.KeyFile = filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(e.KeyFile, jwks, 0o600); err != nil {
		t.Fatal(err)
	}

	cfg := config.Default()
	cfg.Listen, cfg.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Upstream.URL = upstreamURL
	cfg.Upstream.Mode = mode
	cfg.Log.Level = "error"
	cfg.Auth.Issuers = []authn.IssuerConfig{{
		Issuer:     Issuer,
		Audience:   []string{Audience},
		Algorithms: []string{"RS256"},
		KeyFiles:   []authn.KeyFile{{Path: e.KeyFile}},
		Claims:     authn.ClaimsConfig{User: "sub", Tenant: "project_id", Roles: "roles", Reseller: "reseller_id"},
	}}
	if o.Dialect == config.DialectGcore {
		cfg.Dialect = config.DialectGcore
		cfg.Reseller.Source = config.ResellerFromUpstream
		cfg.Auth.Issuers[0].Claims.Client = "client_id"
	}
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	e.Config = cfg
	return e
}

// Start runs the proxy in the test's process.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	e := Setup(t, o)
	if err := e.Config.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, e.Config, server.Options{
		Log:         discardLogger(),
		AuditWriter: e.audit,
	})
	if err != nil {
		cancel()
		t.Fatalf("server: %v", err)
	}
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- srv.Run(ctx, func(p, a net.Addr) {
			e.ProxyURL, e.AdminURL = "http://"+p.String(), "http://"+a.String()
			close(ready)
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("server stopped before it was ready: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return e
}

// StartBinary runs the real imagegate binary (built once per test process by
// BuildBinary) with the environment's configuration written to a file.
func StartBinary(t testing.TB, binary string, o Options) *Env {
	t.Helper()
	e := Setup(t, o)
	auditPath := filepath.Join(t.TempDir(), "decisions.jsonl")
	e.Config.Audit.Sink, e.Config.Audit.File = "file", auditPath
	e.Config.Log.Level = "info"
	raw, err := yaml.Marshal(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "imagegate.yaml")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "serve", "--config", cfgPath)
	cmd.Env = os.Environ()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", binary, err)
	}
	exited := make(chan error, 1)
	// The binary logs its bound addresses once it serves; that line is the readiness signal.
	addrs := make(chan [2]string, 1)
	var logBuf SyncBuffer
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			line := sc.Bytes()
			logBuf.Write(append(line, '\n'))
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
		exited <- cmd.Wait()
	}()
	stop := func() error {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			return err
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			return fmt.Errorf("imagegate did not stop within 15s of SIGINT")
		}
	}
	select {
	case a, ok := <-addrs:
		if !ok {
			err := <-exited
			t.Fatalf("imagegate exited (%v) before serving; log:\n%s", err, logBuf.String())
		}
		e.ProxyURL, e.AdminURL = "http://"+a[0], "http://"+a[1]
	case <-time.After(30 * time.Second):
		_ = stop()
		t.Fatalf("imagegate did not start within 30s; log:\n%s", logBuf.String())
	}
	e.audit = nil
	t.Cleanup(func() {
		// A graceful stop exits 0: in-flight requests drained, decision log flushed.
		if err := stop(); err != nil {
			t.Errorf("imagegate exit: %v; log:\n%s", err, logBuf.String())
		}
	})
	e.auditPath = auditPath
	return e
}

// RunWithBinary is the TestMain of a suite that starts the real binary: it builds
// imagegate into a temporary directory named after prefix, sets *bin to it, runs the
// tests and removes the directory. The result is the exit code.
func RunWithBinary(m *testing.M, prefix string, bin *string) int {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *bin, err = BuildBinary(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// BuildBinary builds ./cmd/imagegate into dir and returns its path.
func BuildBinary(dir string) (string, error) {
	if p := os.Getenv("IMAGEGATE_INTEGRATION_BINARY"); p != "" {
		return p, nil
	}
	out := filepath.Join(dir, "imagegate")
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-o", out, "./cmd/imagegate")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, b)
	}
	return out, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Token mints a valid token for tenant with roles.
func (e *Env) Token(t testing.TB, tenant string, roles ...string) string {
	t.Helper()
	return e.TokenWith(t, jwt.MapClaims{"project_id": tenant, "roles": roles, "sub": "user-" + tenant})
}

// TokenWith mints a token from claims, adding iss, aud, exp, iat and nbf when absent.
func (e *Env) TokenWith(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	now := time.Now()
	defaults := map[string]any{
		"iss": Issuer, "aud": Audience, "exp": now.Add(time.Hour).Unix(),
		"iat": now.Unix(), "nbf": now.Unix(), "sub": "user",
	}
	for k, v := range defaults {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	tok, err := e.Signer.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Request sends one request to the proxy and returns the status and body.
func (e *Env) Request(t testing.TB, method, path, token string, body io.Reader, header ...string) (*http.Response, []byte) {
	t.Helper()
	resp, b, err := e.Do(method, path, token, body, header...)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// Do is Request returning its error instead of failing the test: for goroutines other
// than the test's, where t.Fatal must not be called.
func (e *Env) Do(method, path, token string, body io.Reader, header ...string) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, e.ProxyURL+path, body)
	if err != nil {
		return nil, nil, err
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: read body: %v", method, path, err)
	}
	return resp, b, nil
}

// Events returns the decision events written so far. For a proxy in the test's process
// they are read from memory; for the binary, from its decision log file.
func (e *Env) Events(t testing.TB) []audit.Event {
	t.Helper()
	var raw []byte
	if e.audit != nil {
		raw = e.audit.Bytes()
	} else {
		b, err := os.ReadFile(e.auditPath)
		if err != nil {
			t.Fatalf("read decision log: %v", err)
		}
		raw = b
	}
	return ParseEvents(t, raw)
}

// ParseEvents reads a decision log: one JSON event a line. A last line without its
// newline is still being written and is left out.
func ParseEvents(t testing.TB, raw []byte) []audit.Event {
	t.Helper()
	raw = raw[:bytes.LastIndexByte(raw, '\n')+1]
	var out []audit.Event
	for _, line := range bytes.Split(raw, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var ev audit.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("decision event is not JSON: %v: %s", err, line)
		}
		out = append(out, ev)
	}
	return out
}

// WaitEvent returns the decision event of requestID, polling the log briefly because the
// log is written asynchronously.
func (e *Env) WaitEvent(t testing.TB, requestID string) audit.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, ev := range e.Events(t) {
			if ev.RequestID == requestID {
				return ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no decision event for request %s", requestID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// SyncBuffer is a bytes.Buffer safe for the logger's goroutine and the test's.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

func (b *SyncBuffer) String() string { return string(b.Bytes()) }

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
