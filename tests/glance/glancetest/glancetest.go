// Package glancetest runs a real OpenStack Glance API (Debian's glance-api
// 25.1) for imagegate's end-to-end tests.
//
// Each call to Start gets its own glance-api process on a free 127.0.0.1
// port, with its own sqlite database and file store in a temporary
// directory. Glance runs without Keystone and trusts the identity headers
// (X-Identity-Status: Confirmed, X-Project-Id, X-Roles, X-User-Id, ...) set
// by its caller, exactly as it does behind imagegate.
//
// Glance must be installed first: run tests/glance/install.sh as root.
// Without it, Start fails the test; set IMAGEGATE_SKIP_GLANCE=1 to skip the
// Glance-backed tests instead.
package glancetest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	glanceAPI    = "/usr/bin/glance-api"
	glanceManage = "/usr/bin/glance-manage"

	// SkipEnv, when set to "1", makes Start skip the test instead of
	// running Glance.
	SkipEnv = "IMAGEGATE_SKIP_GLANCE"

	// startTimeout bounds start.sh as a whole: db_sync plus its own
	// 60 s readiness probe.
	startTimeout = 120 * time.Second
	stopTimeout  = 30 * time.Second
	logTailLines = 50
	portAttempts = 3
)

// Glance is a running glance-api.
type Glance struct {
	// URL is the base URL, e.g. "http://127.0.0.1:41234" (no trailing
	// slash); the image API is under URL+"/v2".
	URL string
	// Dir holds glance-api.conf, glance-api-paste.ini, glance.sqlite, the
	// file store (images/), glance-api.log and glance-api.pid.
	Dir string
}

// LogPath is the path of the glance-api log.
func (g *Glance) LogPath() string { return filepath.Join(g.Dir, "glance-api.log") }

// safeDir matches what start.sh accepts: the directory is written unquoted
// into ini files where '$', '%' and whitespace are special.
var safeDir = regexp.MustCompile(`^[A-Za-z0-9._/+-]+$`)

// Start starts a fresh glance-api for the test and stops it in t.Cleanup.
// It fails the test (never skips silently) if Glance is not installed,
// unless IMAGEGATE_SKIP_GLANCE=1 is set.
func Start(t testing.TB) *Glance {
	t.Helper()
	if os.Getenv(SkipEnv) == "1" {
		t.Skipf("\n!!! SKIPPING: %s=1 is set, so this test does NOT run against a real Glance.\n"+
			"!!! Unset it and run tests/glance/install.sh (as root) to run it.", SkipEnv)
	}
	for _, bin := range []string{glanceAPI, glanceManage} {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("glancetest: %s not found (%v).\n"+
				"Install Glance first:  sudo tests/glance/install.sh   (from the repository root)\n"+
				"or set %s=1 to skip the Glance-backed tests.", bin, err, SkipEnv)
		}
	}
	scripts, err := scriptDir()
	if err != nil {
		t.Fatalf("glancetest: %v", err)
	}

	dir := t.TempDir()
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	}
	if !safeDir.MatchString(dir) {
		// The test name put characters into t.TempDir() that start.sh
		// rejects; use a plainer directory.
		d, err := os.MkdirTemp("", "imagegate-glance-")
		if err != nil {
			t.Fatalf("glancetest: %v", err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(d) })
		dir = d
	}
	g := &Glance{Dir: dir}

	// Registered before starting, so a start.sh killed half-way still has
	// its glance-api stopped. Cleanups run LIFO: this runs before the
	// temporary directory is removed.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("glancetest: last %d lines of %s:\n%s", logTailLines, g.LogPath(), tail(g.LogPath(), logTailLines))
		}
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if out, err := runScript(ctx, filepath.Join(scripts, "stop.sh"), dir); err != nil {
			t.Errorf("glancetest: stop.sh %s: %v\n%s", dir, err, out)
		}
	})

	var lastOut []byte
	for attempt := 1; attempt <= portAttempts; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("glancetest: picking a free port: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		out, err := runScript(ctx, filepath.Join(scripts, "start.sh"), dir, strconv.Itoa(port))
		cancel()
		if err == nil {
			g.URL = "http://127.0.0.1:" + strconv.Itoa(port)
			t.Logf("glancetest: glance-api on %s (dir %s)\n%s", g.URL, dir, bytes.TrimSpace(out))
			return g
		}
		lastOut = out
		// Another process may have taken the port between freePort and
		// glance-api's bind: try another one. Anything else is fatal.
		if !portTaken(out, g.LogPath()) {
			t.Fatalf("glancetest: start.sh %s %d failed: %v\n%s", dir, port, err, out)
		}
		t.Logf("glancetest: port %d was taken, retrying (attempt %d/%d)", port, attempt, portAttempts)
		// Keep this attempt's log apart so the next one is judged on its own.
		_ = os.Rename(g.LogPath(), g.LogPath()+".attempt"+strconv.Itoa(attempt))
	}
	t.Fatalf("glancetest: start.sh failed %d times because the port was taken:\n%s", portAttempts, lastOut)
	return nil
}

func runScript(ctx context.Context, script string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "/bin/bash", append([]string{script}, args...)...)
	// start.sh's watchdog stops glance-api if this test binary dies without
	// running its cleanups (test timeout, os.Exit, SIGKILL).
	cmd.Env = append(os.Environ(), "GLANCE_WATCH_PID="+strconv.Itoa(os.Getpid()))
	// start.sh detaches glance-api from its stdio, but never let a stray
	// inherited pipe keep us waiting.
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", err, ctx.Err())
	}
	return out, err
}

// portTaken reports whether start.sh failed because the port was in use:
// its own pre-check, its SO_REUSEPORT sharing check, or glance-api giving
// up binding (it retries for 30 s).
func portTaken(startOut []byte, logPath string) bool {
	for _, s := range []string{"something already answers", "is shared by", "Could not bind to"} {
		if bytes.Contains(startOut, []byte(s)) {
			return true
		}
	}
	b, err := os.ReadFile(logPath)
	return err == nil && bytes.Contains(b, []byte("Could not bind to"))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// scriptDir finds tests/glance (start.sh, stop.sh): next to this source
// file, else by walking up from the working directory to the module root.
func scriptDir() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		d := filepath.Dir(filepath.Dir(file))
		if _, err := os.Stat(filepath.Join(d, "start.sh")); err == nil {
			return d, nil
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			s := filepath.Join(d, "tests", "glance")
			if _, err := os.Stat(filepath.Join(s, "start.sh")); err == nil {
				return s, nil
			}
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return "", errors.New("cannot find tests/glance/start.sh (looked next to glancetest.go and under the module root above " + wd + ")")
}

// tail returns the last n lines of a file, or a note saying why not.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return "(log is empty)"
	}
	return strings.Join(lines, "\n")
}
