package integration

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/imageapi"
	"github.com/imagegate/imagegate/policies"
	"github.com/imagegate/imagegate/tests/testenv"
)

// copyPolicies writes the shipped policies into a new directory an operator would own.
func copyPolicies(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(policies.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(policies.FS(), path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, path), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// denyListsFor rewrites the role data so that the OpenStack member may no longer list.
func denyListsFor(t *testing.T, dir string) {
	t.Helper()
	p := filepath.Join(dir, "data.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), `"images.list": true,`, ``, 1)
	if s == string(b) {
		t.Fatal("data.json has no images.list permission to remove")
	}
	writeAtomically(t, p, s)
}

// writeAtomically replaces a file the way a deployment tool does: write aside, rename.
func writeAtomically(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestReloadWhileRequestsFlow swaps a valid and then a broken policy under load: every
// request is decided (200 or 403, never an error), each by a whole policy revision.
func TestReloadWhileRequestsFlow(t *testing.T) {
	dir := copyPolicies(t)
	e := testenv.Start(t, testenv.Options{Configure: func(c *config.Config) {
		c.Policy.Dir = dir
		c.Policy.WatchInterval = config.Duration(20 * time.Millisecond)
	}})
	tok := e.Token(t, imageapi.DemoTenantA, "member", "reader")

	var stop atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				resp, _ := e.Request(t, "GET", "/v2/images?limit=3", tok, nil)
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
			}
		}()
	}
	revisionOf := func() string {
		resp, _ := e.Request(t, "GET", "/v2/images?limit=1", tok, nil)
		return e.WaitEvent(t, resp.Header.Get("X-Request-Id")).Revision
	}
	first := revisionOf()

	denyListsFor(t, dir)
	waitUntil(t, func() bool { resp, _ := e.Request(t, "GET", "/v2/images", tok, nil); return resp.StatusCode == 403 })
	second := revisionOf()
	if second == first {
		t.Fatal("revision unchanged after a reload")
	}

	writeAtomically(t, filepath.Join(dir, "decision.rego"), "package imagegate\n\ndecision := {")
	waitUntil(t, func() bool { return metricValue(t, e.AdminURL, `imagegate_policy_reloads_total{result="error"}`) >= 1 })
	// Keep the load on a little longer with the broken file in place.
	time.Sleep(100 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	if n := statuses[200] + statuses[403]; n == 0 || n != sum(statuses) {
		t.Fatalf("statuses under reload: %v (only 200 and 403 expected)", statuses)
	}
	for _, ev := range e.Events(t) {
		if ev.Input.Operation == "images.list" && ev.Revision != first && ev.Revision != second {
			t.Fatalf("a request was decided by revision %q (want %s or %s)", ev.Revision, first, second)
		}
	}
	if revisionOf() != second {
		t.Fatal("a broken policy replaced the last good one")
	}
	resp, body := e.Request(t, "GET", "/v2/images", tok, nil)
	if resp.StatusCode != 403 {
		t.Fatalf("last good policy not in force: %d %s", resp.StatusCode, body)
	}
	ready := get(t, e.AdminURL+"/readyz")
	if !strings.Contains(ready, "policy reload failed") || !strings.Contains(ready, second) {
		t.Fatalf("/readyz does not report the failed reload:\n%s", ready)
	}
	t.Logf("statuses under reload: %v", statuses)
}

func TestShadowPolicyIsLoggedNotEnforced(t *testing.T) {
	shadow := copyPolicies(t)
	denyListsFor(t, shadow)
	e := testenv.Start(t, testenv.Options{Configure: func(c *config.Config) { c.Policy.ShadowDir = shadow }})
	tok := e.Token(t, imageapi.DemoTenantA, "member", "reader")
	resp, body := e.Request(t, "GET", "/v2/images", tok, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("the shadow policy was enforced: %d %s", resp.StatusCode, body)
	}
	ev := e.WaitEvent(t, resp.Header.Get("X-Request-Id"))
	if !ev.Result.Allow || ev.Shadow == nil || ev.Shadow.Allow || ev.Shadow.Status != 403 {
		t.Fatalf("event %+v shadow %+v", ev.Result, ev.Shadow)
	}
	if metricValue(t, e.AdminURL, `imagegate_shadow_decisions_total{result="differ"}`) != 1 {
		t.Fatal("the disagreement was not counted")
	}
	resp, _ = e.Request(t, "GET", "/v2/images/"+imageapi.DemoImagePrivateA, tok, nil)
	if ev := e.WaitEvent(t, resp.Header.Get("X-Request-Id")); ev.Shadow == nil || !ev.Shadow.Allow {
		t.Fatalf("shadow on a get: %+v", ev.Shadow)
	}
	if metricValue(t, e.AdminURL, `imagegate_shadow_decisions_total{result="same"}`) != 1 {
		t.Fatal("the agreement was not counted")
	}
}

func TestDryRunForwardsDenials(t *testing.T) {
	e := testenv.Start(t, testenv.Options{Mode: "service", Configure: func(c *config.Config) { c.Policy.DryRun = true }})
	tok := e.Token(t, imageapi.DemoTenantC, "reader")
	resp, body := e.Request(t, "DELETE", "/v2/images/"+imageapi.DemoImagePrivateC, tok, nil)
	if resp.StatusCode != 204 {
		t.Fatalf("dry run did not forward: %d %s", resp.StatusCode, body)
	}
	ev := e.WaitEvent(t, resp.Header.Get("X-Request-Id"))
	if ev.Result.Allow || !ev.Result.DryRun || len(ev.Result.Reasons) == 0 {
		t.Fatalf("event %+v", ev.Result)
	}
}

func sum(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 15s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
