package policy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type recordingObserver struct {
	mu     sync.Mutex
	loads  []string
	errors []error
}

func (o *recordingObserver) PolicyLoaded(_, revision string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.errors = append(o.errors, err)
		return
	}
	o.loads = append(o.loads, revision)
}

func (o *recordingObserver) counts() (int, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.loads), len(o.errors)
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHiddenEntriesAreNotPolicy(t *testing.T) {
	dir := t.TempDir()
	// A ConfigMap volume: the old version stays under a hidden directory.
	writeFiles(t, dir, map[string]string{
		"p.rego":              allowReaders,
		"..2024_01_01/p.rego": "package imagegate\n\ndecision := {",
	})
	if _, err := New(context.Background(), DirSource(dir)); err != nil {
		t.Fatalf("a hidden directory was loaded: %v", err)
	}
}

func TestTestsOnLoad(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"p.rego":      allowReaders,
		"p_test.rego": "package imagegate_test\n\nimport rego.v1\n\ntest_reader_allowed if data.imagegate.decision.allow with input as {\"principal\": {\"roles\": [\"reader\"]}}\n",
	})
	obs := &recordingObserver{}
	e, err := New(context.Background(), DirSource(dir), WithTestsOnLoad(true), WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	good := e.Revision()
	// A policy that breaks its own test is refused; the previous one stays.
	writeFiles(t, dir, map[string]string{"p.rego": strings.Replace(allowReaders, `"reader" in`, `"nobody" in`, 1)})
	err = e.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "test_reader_allowed") {
		t.Fatalf("reload = %v, want the failing test named", err)
	}
	if e.Revision() != good || e.Status().LastError == nil {
		t.Fatalf("status %+v", e.Status())
	}
	if loads, errs := obs.counts(); loads != 1 || errs != 1 {
		t.Fatalf("observer saw %d loads, %d errors", loads, errs)
	}
}

func TestWatchSourceReloadsAndSurvivesBrokenPolicy(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"p.rego": allowReaders})
	obs := &recordingObserver{}
	e, err := New(context.Background(), DirSource(dir), WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.WatchSource(ctx, 10*time.Millisecond, quietLog()) }()
	defer func() { cancel(); <-done }()

	first := e.Revision()
	writeFiles(t, dir, map[string]string{"p.rego": "package imagegate\n\ndecision := {"})
	waitFor(t, func() bool { _, errs := obs.counts(); return errs >= 1 })
	if e.Revision() != first {
		t.Fatal("a broken policy replaced the good one")
	}
	if d, _, err := e.Decide(context.Background(), input("reader")); err != nil || !d.Allow {
		t.Fatalf("requests not decided by the last good policy: %+v %v", d, err)
	}
	writeFiles(t, dir, map[string]string{"p.rego": strings.Replace(allowReaders, `"reader" in`, `"admin" in`, 1)})
	waitFor(t, func() bool { return e.Revision() != first })
	if d, _, err := e.Decide(context.Background(), input("reader")); err != nil || d.Allow {
		t.Fatalf("the new policy is not in force: %+v %v", d, err)
	}
	if e.Status().LastError != nil {
		t.Fatal("a successful load left the old error in the status")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// bundleServer serves whatever bundle bytes it holds now, with an ETag.
type bundleServer struct {
	mu   sync.Mutex
	body []byte
	etag string
	hits atomic.Int64
	srv  *httptest.Server
}

func newBundleServer(t *testing.T) *bundleServer {
	b := &bundleServer{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		b.mu.Lock()
		body, etag := b.body, b.etag
		b.mu.Unlock()
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		_, _ = w.Write(body)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *bundleServer) set(body []byte, etag string) {
	b.mu.Lock()
	b.body, b.etag = body, `"`+etag+`"`
	b.mu.Unlock()
}

func makeBundle(t *testing.T, revision, rego string, signWith *rsa.PrivateKey, tamper bool) []byte {
	t.Helper()
	b := bundle.Bundle{
		Manifest: bundle.Manifest{Revision: revision},
		Data:     map[string]any{},
		Modules:  []bundle.ModuleFile{{Path: "/policy.rego", URL: "/policy.rego", Raw: []byte(rego)}},
	}
	b.Manifest.Init()
	if signWith != nil {
		der, _ := x509.MarshalPKCS8PrivateKey(signWith)
		key := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		if err := b.GenerateSignature(bundle.NewSigningConfig(key, "RS256", ""), "imagegate", false); err != nil {
			t.Fatal(err)
		}
	}
	if tamper {
		b.Modules[0].Raw = []byte(strings.Replace(rego, `"reader" in`, `"anyone" in`, 1))
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSignedBundle(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	keyFile := filepath.Join(t.TempDir(), "bundle.pub")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := newBundleServer(t)
	srv.set(makeBundle(t, "rev-1", allowReaders, priv, false), "1")

	obs := &recordingObserver{}
	e := NewEmpty(WithObserver(obs))
	if _, _, err := e.Decide(context.Background(), input("reader")); err == nil {
		t.Fatal("an engine without a policy decided")
	}
	w, err := NewBundleWatcher(e, BundleConfig{URL: srv.srv.URL, Resource: "/bundle.tar.gz", MinDelay: time.Second, MaxDelay: time.Second,
		PublicKeyFile: keyFile}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := w.Start(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	defer w.Stop(context.Background())
	if e.Revision() != "rev-1" {
		t.Fatalf("revision %q", e.Revision())
	}
	if d, _, err := e.Decide(context.Background(), input("reader")); err != nil || !d.Allow {
		t.Fatalf("%+v %v", d, err)
	}

	// A tampered bundle is refused; the signed one stays in force.
	srv.set(makeBundle(t, "rev-2", allowReaders, priv, true), "2")
	waitFor(t, func() bool { _, errs := obs.counts(); return errs >= 1 })
	if e.Revision() != "rev-1" {
		t.Fatalf("a tampered bundle was activated: %q", e.Revision())
	}
	if err := e.Status().LastError; err == nil || !strings.Contains(err.Error(), "bundle") {
		t.Fatalf("status error %v", err)
	}
	// An unsigned bundle too.
	srv.set(makeBundle(t, "rev-3", allowReaders, nil, false), "3")
	waitFor(t, func() bool { _, errs := obs.counts(); return errs >= 2 })
	if e.Revision() != "rev-1" {
		t.Fatalf("an unsigned bundle was activated: %q", e.Revision())
	}
	// A new signed bundle is activated.
	srv.set(makeBundle(t, "rev-4", strings.Replace(allowReaders, `"reader" in`, `"admin" in`, 1), priv, false), "4")
	waitFor(t, func() bool { return e.Revision() == "rev-4" })
	if d, _, err := e.Decide(context.Background(), input("reader")); err != nil || d.Allow {
		t.Fatalf("rev-4 not in force: %+v %v", d, err)
	}
}

func TestBundleStartTimesOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	defer srv.Close()
	e := NewEmpty()
	w, err := NewBundleWatcher(e, BundleConfig{URL: srv.URL, Resource: "/b.tar.gz", MinDelay: time.Second, MaxDelay: time.Second}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop(context.Background())
	if err := w.Start(context.Background(), 500*time.Millisecond); err == nil {
		t.Fatal("started without a bundle")
	}
	if e.Ready() {
		t.Fatal("ready without a policy")
	}
}
