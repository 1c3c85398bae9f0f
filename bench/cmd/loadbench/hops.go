package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Hop names, in the order of the tables.
const (
	hopDirect    = "direct"
	hopHAProxy   = "haproxy"
	hopGoBare    = "go-bare"
	hopGoTuned   = "go-tuned"
	hopSidecar   = "go+opa-sidecar"
	hopImagegate = "imagegate"
	// hopBaseline is another imagegate build, with the same configuration (-baseline).
	hopBaseline = "imagegate-baseline"
)

// hop is one way to the upstream: its URL, and the processes whose CPU and memory are
// its cost (none for direct).
type hop struct {
	name  string
	url   string
	procs []*proc
	// admin is imagegate's admin listener (metrics).
	admin string
	// pprof is the profiling address of a hop started with it.
	pprof string
	// decisionLog is imagegate's decision log file.
	decisionLog string
}

func (h *hop) pids() []int {
	out := make([]int, 0, len(h.procs))
	for _, p := range h.procs {
		out = append(out, p.pid())
	}
	return out
}

// stack is every process of a run.
type stack struct {
	upstream *proc
	hops     []*hop
	all      []*proc
}

func (s *stack) stop() {
	// Hops first, the upstream last; each process by its own pid.
	for i := len(s.all) - 1; i >= 0; i-- {
		s.all[i].stop()
	}
}

func (s *stack) hop(name string) *hop {
	for _, h := range s.hops {
		if h.name == name {
			return h
		}
	}
	return nil
}

// startStack starts the upstream and every hop in front of it, on loopback ports.
func startStack(o *options, f *fixture, profile bool) (s *stack, err error) {
	s = &stack{}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	ports := map[string]int{}
	for _, name := range []string{"upstream", hopHAProxy, hopGoBare, hopGoTuned, "opa", hopSidecar, hopImagegate, "admin",
		hopBaseline, "admin-baseline", "pprof-gate", "pprof-bare"} {
		if ports[name], err = freePort(); err != nil {
			return nil, err
		}
	}
	addr := func(name string) string { return fmt.Sprintf("127.0.0.1:%d", ports[name]) }
	run := func(name, bin string, args ...string) (*proc, error) {
		p, err := startProc(name, filepath.Join(o.out, "log-"+name+".txt"), bin, args...)
		if err != nil {
			return nil, err
		}
		s.all = append(s.all, p)
		return p, nil
	}
	up := "http://" + addr("upstream")

	if s.upstream, err = run("upstream", filepath.Join(o.bin, "cannedglance"), "-listen", addr("upstream"), "-routes", f.routes); err != nil {
		return nil, err
	}
	if err := waitListening(s.upstream, addr("upstream"), 30*time.Second); err != nil {
		return nil, err
	}
	s.hops = append(s.hops, &hop{name: hopDirect, url: up})

	if o.has(hopHAProxy) {
		cfg := filepath.Join(o.out, "haproxy.cfg")
		// A plain hop: one thread, keep-alive on both sides, idle server connections reused.
		text := fmt.Sprintf(`global
    nbthread 1
    maxconn 8192
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
    http-reuse always
frontend bench
    bind %s
    default_backend upstream
backend upstream
    server canned %s
`, addr(hopHAProxy), addr("upstream"))
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			return nil, err
		}
		p, err := run(hopHAProxy, o.haproxy, "-db", "-f", cfg)
		if err != nil {
			return nil, err
		}
		if err := waitListening(p, addr(hopHAProxy), 30*time.Second); err != nil {
			return nil, err
		}
		s.hops = append(s.hops, &hop{name: hopHAProxy, url: "http://" + addr(hopHAProxy), procs: []*proc{p}})
	}

	for _, v := range []struct {
		name  string
		extra []string
	}{{hopGoBare, nil}, {hopGoTuned, []string{"-tuned"}}} {
		if !o.has(v.name) {
			continue
		}
		args := append([]string{"-listen", addr(v.name), "-upstream", up}, v.extra...)
		h := &hop{name: v.name, url: "http://" + addr(v.name)}
		if profile && v.name == hopGoBare {
			h.pprof = addr("pprof-bare")
			args = append(args, "-pprof", h.pprof)
		}
		p, err := run(v.name, filepath.Join(o.bin, "barehop"), args...)
		if err != nil {
			return nil, err
		}
		if err := waitListening(p, addr(v.name), 30*time.Second); err != nil {
			return nil, err
		}
		h.procs = []*proc{p}
		s.hops = append(s.hops, h)
	}

	if o.has(hopSidecar) {
		opa, err := run("opa", o.opa, "run", "--server", "--addr", addr("opa"), "--log-level", "error",
			"--disable-telemetry", o.policyDir)
		if err != nil {
			return nil, err
		}
		if err := waitListening(opa, addr("opa"), 60*time.Second); err != nil {
			return nil, err
		}
		p, err := run(hopSidecar, filepath.Join(o.bin, "sidecarhop"), "-listen", addr(hopSidecar), "-upstream", up,
			"-opa", "http://"+addr("opa"), "-pubkey", f.pem, "-issuer", issuer, "-audience", audience)
		if err != nil {
			return nil, err
		}
		if err := waitListening(p, addr(hopSidecar), 30*time.Second); err != nil {
			return nil, err
		}
		s.hops = append(s.hops, &hop{name: hopSidecar, url: "http://" + addr(hopSidecar), procs: []*proc{p, opa}})
	}

	gates := []struct{ name, admin, bin string }{{hopImagegate, "admin", o.imagegate}}
	if o.baseline != "" {
		gates = append(gates, struct{ name, admin, bin string }{hopBaseline, "admin-baseline", o.baseline})
	}
	for _, g := range gates {
		if !o.has(hopImagegate) {
			break
		}
		decisionLog := filepath.Join(o.out, "decisions-"+g.name+".jsonl")
		cfg := filepath.Join(o.out, g.name+".yaml")
		// Everything on: RS256 tokens, the shipped role and visibility policies, list
		// filtering, the decision log to a file, metrics on the admin listener.
		text := fmt.Sprintf(`listen: %s
admin_listen: %s
dialect: glance
upstream:
  url: %s
  mode: delegated
auth:
  issuers:
    - issuer: %s
      audience: [%s]
      algorithms: [RS256]
      key_files: [{path: %s}]
      claims: {user: sub, tenant: project_id, roles: roles}
audit:
  sink: file
  file: %s
log:
  level: warn
`, addr(g.name), addr(g.admin), up, issuer, audience, f.jwks, decisionLog)
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			return nil, err
		}
		h := &hop{name: g.name, url: "http://" + addr(g.name), admin: "http://" + addr(g.admin), decisionLog: decisionLog}
		bin, args := g.bin, []string{"serve", "--config", cfg}
		if profile && g.name == hopImagegate {
			h.pprof = addr("pprof-gate")
			bin, args = filepath.Join(o.bin, "pprofgate"), []string{"-config", cfg, "-pprof", h.pprof}
		}
		p, err := run(g.name, bin, args...)
		if err != nil {
			return nil, err
		}
		if err := waitListening(p, addr(g.name), 60*time.Second); err != nil {
			return nil, err
		}
		h.procs = []*proc{p}
		s.hops = append(s.hops, h)
	}
	return s, nil
}
