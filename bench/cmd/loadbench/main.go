// Command loadbench is imagegate's load benchmark harness (docs/benchmarks.md). In one
// run, with one workload set and one load generator, it measures the same requests
// sent straight to a canned Glance upstream and through each hop in front of it:
// HAProxy, a bare httputil.ReverseProxy (defaults, and tuned), that Go hop asking an OPA
// sidecar over REST, and imagegate with everything on.
//
// Per hop and workload it reports throughput at saturation (wrk, closed loop), latency
// percentiles at a fixed rate (an open-loop generator that counts from the instant each
// request was due), the CPU time per request of the hop's own processes (from
// /proc/<pid>/stat) and their peak RSS; then an overload run of 1 MiB downloads offered
// faster than they can be served. Every answer is checked against the upstream's bytes:
// a run in which anything failed unexpectedly is refused, not reported.
//
// bench/run.sh builds what it needs and runs it; run it with -h for the options.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/imagegate/imagegate/policies"
)

// options are the harness's flags.
type options struct {
	quick         bool
	out           string
	bin           string
	imagegate     string
	opa           string
	wrk           string
	haproxy       string
	wrkScript     string
	policyDir     string
	repeats       int
	duration      time.Duration
	warmup        time.Duration
	conns         int
	rate          float64
	downloadRate  float64
	tenants       int
	hops          []string
	workloads     []string
	overload      time.Duration
	overloadRate  float64
	overloadConns int
	profile       bool
	label         string
	baseline      string
}

func (o *options) has(hop string) bool {
	for _, h := range o.hops {
		if h == hop {
			return true
		}
	}
	return false
}

func parseOptions(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("loadbench", flag.ContinueOnError)
	fs.BoolVar(&o.quick, "quick", false, "one repeat of short measurements (about 2 minutes in all)")
	fs.StringVar(&o.out, "out", "", "directory for results, logs and profiles (required)")
	fs.StringVar(&o.bin, "bin", "", "directory holding cannedglance, barehop, sidecarhop, pprofgate (required)")
	fs.StringVar(&o.imagegate, "imagegate", "", "imagegate binary (default BIN/imagegate)")
	fs.StringVar(&o.opa, "opa", "opa", "opa binary")
	fs.StringVar(&o.wrk, "wrk", "wrk", "wrk binary")
	fs.StringVar(&o.haproxy, "haproxy", "haproxy", "haproxy binary")
	fs.StringVar(&o.wrkScript, "wrk-script", "bench/wrk/check.lua", "wrk script")
	fs.IntVar(&o.repeats, "repeats", 3, "repeats of every measurement")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measurement (whole seconds)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "closed-loop warm-up before each hop's measurements (whole seconds)")
	fs.IntVar(&o.conns, "connections", 32, "wrk connections at saturation")
	fs.Float64Var(&o.rate, "rate", 1000, "fixed rate (req/s) of the list, get and member workloads")
	fs.Float64Var(&o.downloadRate, "download-rate", 200, "fixed rate (req/s) of 1 MiB downloads")
	fs.IntVar(&o.tenants, "tenants", 1000, "tenants, each with its own token")
	hops := fs.String("hops", strings.Join([]string{hopDirect, hopHAProxy, hopGoBare, hopGoTuned, hopSidecar, hopImagegate}, ","), "hops to measure")
	wls := fs.String("workloads", strings.Join(workloads, ","), "workloads to measure")
	fs.DurationVar(&o.overload, "overload", 10*time.Second, "length of the download overload run (0: none)")
	fs.Float64Var(&o.overloadRate, "overload-rate", 0, "offered download rate of the overload run (default 2.5× what imagegate served at saturation)")
	fs.IntVar(&o.overloadConns, "overload-connections", 2000, "most requests in flight during the overload run")
	fs.BoolVar(&o.profile, "profile", false, "instead of measuring, take CPU and heap profiles of imagegate and go-bare at saturation")
	fs.StringVar(&o.label, "label", "", "a name for this run in the report (e.g. which imagegate build)")
	fs.StringVar(&o.baseline, "baseline", "", "another imagegate binary to measure beside this tree's, as hop "+hopBaseline+" (before/after rows)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.out == "" || o.bin == "" {
		return nil, fmt.Errorf("-out and -bin are required")
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["repeats"] {
			o.repeats = 1
		}
		if !set["duration"] {
			o.duration = 2 * time.Second
		}
		if !set["warmup"] {
			o.warmup = time.Second
		}
		if !set["overload"] {
			o.overload = 3 * time.Second
		}
	}
	if o.imagegate == "" {
		o.imagegate = filepath.Join(o.bin, "imagegate")
	}
	o.hops = strings.Split(*hops, ",")
	if !o.has(hopDirect) {
		o.hops = append([]string{hopDirect}, o.hops...)
	}
	o.workloads = strings.Split(*wls, ",")
	for _, wl := range o.workloads {
		if !slicesContains(workloads, wl) {
			return nil, fmt.Errorf("unknown workload %q", wl)
		}
	}
	return o, nil
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func main() {
	o, err := parseOptions(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

// refusal is a run the harness will not report.
type refusal struct{ reason string }

func (r *refusal) Error() string {
	return "REFUSED: this run is not reported: " + r.reason
}

func run(ctx context.Context, o *options) error {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	logf("results in %s", o.out)
	facts := machineFacts(o)
	fixDir := filepath.Join(o.out, "fixture")
	if err := os.MkdirAll(fixDir, 0o755); err != nil {
		return err
	}
	f, err := newFixture(fixDir, o.tenants)
	if err != nil {
		return fmt.Errorf("fixture: %w", err)
	}
	reqFiles := map[string]string{}
	for _, wl := range workloads {
		if reqFiles[wl], err = f.writeRequests(wl); err != nil {
			return err
		}
	}
	if o.policyDir, err = writePolicies(filepath.Join(o.out, "opa-policies")); err != nil {
		return err
	}
	s, err := startStack(o, f, o.profile)
	if err != nil {
		return err
	}
	defer s.stop()
	logf("stack up: %s", hopNames(s.hops))

	client := newClient(512)
	if err := verify(ctx, client, s, f); err != nil {
		return err
	}
	if o.profile {
		return profiles(ctx, o, s, f, reqFiles)
	}

	res := &results{Facts: facts, Options: optionsOf(o)}
	for rep := range o.repeats {
		for _, wl := range o.workloads {
			// Rotate the order of the hops from one repeat to the next.
			order := append(append([]*hop{}, s.hops[rep%len(s.hops):]...), s.hops[:rep%len(s.hops)]...)
			for _, h := range order {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				ms, err := measure(ctx, o, client, s, h, f, wl, reqFiles[wl], rep)
				res.Measurements = append(res.Measurements, ms...)
				if err != nil {
					_ = res.write(o.out)
					return err
				}
			}
		}
	}
	if o.overload > 0 && o.has(hopImagegate) && slicesContains(o.workloads, wlDownload) {
		for _, name := range []string{hopImagegate, hopBaseline, hopGoBare} {
			h := s.hop(name)
			if h == nil {
				continue
			}
			m, err := overload(ctx, o, s, h, f, res)
			if m != nil {
				res.Measurements = append(res.Measurements, *m)
			}
			if err != nil {
				_ = res.write(o.out)
				return err
			}
		}
	}
	for _, h := range s.hops {
		for _, p := range h.procs {
			_, hwm, err := memOf(p.pid())
			if err == nil {
				res.PeakRSS = append(res.PeakRSS, peak{Hop: h.name, Process: p.name, VmHWM: hwm})
			}
		}
	}
	res.Facts["loadavg_end"] = loadavg()
	if err := res.write(o.out); err != nil {
		return err
	}
	report := res.markdown()
	if err := os.WriteFile(filepath.Join(o.out, "report.md"), []byte(report), 0o644); err != nil {
		return err
	}
	fmt.Println(report)
	logf("report written to %s", filepath.Join(o.out, "report.md"))
	return nil
}

func hopNames(hs []*hop) string {
	var names []string
	for _, h := range hs {
		names = append(names, h.name)
	}
	return strings.Join(names, ", ")
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// verify sends every tenant's call of every workload through every hop and compares the
// answers with the upstream's bytes. Downloads are checked for 50 tenants here; every
// download of the fixed-rate runs is checked too.
func verify(ctx context.Context, client *http.Client, s *stack, f *fixture) error {
	for _, h := range s.hops {
		for _, wl := range workloads {
			calls := f.calls[wl]
			if wl == wlDownload {
				calls = calls[:min(50, len(calls))]
			}
			var (
				mu    sync.Mutex
				fails []string
				wg    sync.WaitGroup
				next  = make(chan call)
			)
			for range 8 {
				wg.Go(func() {
					for c := range next {
						if out, detail := send(ctx, client, h.url, c, false); out != "ok" {
							mu.Lock()
							fails = append(fails, detail)
							mu.Unlock()
						}
					}
				})
			}
			for _, c := range calls {
				next <- c
			}
			close(next)
			wg.Wait()
			if len(fails) > 0 {
				return &refusal{fmt.Sprintf("%s answered %d of %d %s requests otherwise than the upstream, e.g. %s",
					h.name, len(fails), len(calls), wl, fails[0])}
			}
		}
		logf("verified: %s answers the upstream's bytes for every workload", h.name)
	}
	return nil
}

// measure runs the warm-up, the fixed-rate run and the saturation run of one hop and
// workload.
func measure(ctx context.Context, o *options, client *http.Client, s *stack, h *hop, f *fixture, wl, reqFile string, rep int) ([]measurement, error) {
	calls := f.calls[wl]
	status, lengths := calls[0].status, f.lengths(wl)
	if o.warmup > 0 {
		w, err := runWrk(ctx, o, h.url, reqFile, status, lengths, o.warmup)
		if err != nil {
			return nil, err
		}
		if bad := w.failures(); bad != "" {
			return nil, &refusal{fmt.Sprintf("%s %s warm-up: %s", h.name, wl, bad)}
		}
	}
	var out []measurement
	rate := o.rate
	if wl == wlDownload {
		rate = o.downloadRate
	}

	// Fixed rate.
	m := newMeasurement(rep, wl, h, "rate")
	m.OfferedRate = rate
	probe, err := startProbe(s, h)
	if err != nil {
		return nil, err
	}
	rr := runRate(ctx, client, h.url, calls, rateSpec{rate: rate, dur: o.duration, maxInFlight: 512, grace: 10 * time.Second})
	if err := probe.finish(&m, int64(rr.Sent)); err != nil {
		return nil, err
	}
	m.Rate = rr
	m.RPS = float64(rr.OK) / rr.Elapsed.Seconds()
	out = append(out, m)
	if bad := rr.failures(); bad != "" {
		return out, &refusal{fmt.Sprintf("%s %s at %.0f req/s: %s", h.name, wl, rate, bad)}
	}
	logf("rep %d %-8s %-15s %5.0f req/s: p50 %.3f p90 %.3f p99 %.3f ms, %.0f µs CPU/req", rep+1, wl, h.name, rate,
		rr.P50, rr.P90, rr.P99, m.CPUPerReq)
	time.Sleep(300 * time.Millisecond)

	// Saturation.
	m = newMeasurement(rep, wl, h, "saturation")
	if probe, err = startProbe(s, h); err != nil {
		return nil, err
	}
	w, err := runWrk(ctx, o, h.url, reqFile, status, lengths, o.duration)
	if err != nil {
		return out, err
	}
	if err := probe.finish(&m, w.Requests); err != nil {
		return out, err
	}
	m.Wrk = &w
	m.RPS = w.rps()
	m.GenCPUPerReq = us(w.CPU) / float64(max(w.Requests, 1))
	out = append(out, m)
	if bad := w.failures(); bad != "" {
		return out, &refusal{fmt.Sprintf("%s %s at saturation: %s", h.name, wl, bad)}
	}
	logf("rep %d %-8s %-15s saturation: %7.0f req/s, %.0f µs CPU/req, RSS %.0f MB", rep+1, wl, h.name, m.RPS, m.CPUPerReq, m.RSSMaxMB)
	time.Sleep(300 * time.Millisecond)
	return out, nil
}

// overload offers 1 MiB downloads faster than they can be served and watches the hop's
// memory: it must refuse (503) or queue, never grow without bound.
func overload(ctx context.Context, o *options, s *stack, h *hop, f *fixture, res *results) (*measurement, error) {
	rate := o.overloadRate
	if rate == 0 {
		rate = 2.5 * res.median(wlDownload, hopImagegate, "saturation", func(m measurement) float64 { return m.RPS })
		rate = max(rate, 500)
	}
	m := newMeasurement(0, wlDownload, h, "overload")
	m.OfferedRate = rate
	client := newClient(o.overloadConns)
	defer client.CloseIdleConnections()
	probe, err := startProbe(s, h)
	if err != nil {
		return nil, err
	}
	rr := runRate(ctx, client, h.url, f.calls[wlDownload], rateSpec{
		rate: rate, dur: o.overload, maxInFlight: o.overloadConns, overload: true, grace: 5 * time.Second,
	})
	if err := probe.finish(&m, int64(rr.Sent)); err != nil {
		return nil, err
	}
	m.Rate = rr
	m.RPS = float64(rr.OK) / rr.Elapsed.Seconds()
	logf("overload %-15s offered %.0f req/s of 1 MiB: served %.0f/s, refused %d, other errors %v, unfinished %d, failed %d, RSS max %.0f MB",
		h.name, rate, m.RPS, rr.Refused, rr.Errors, rr.Unfinished, rr.Failures, m.RSSMaxMB)
	if bad := rr.failures(); bad != "" {
		return &m, &refusal{fmt.Sprintf("%s download overload: %s", h.name, bad)}
	}
	return &m, nil
}

// probe measures the processes of a hop (and the upstream, and this process) during one
// measurement.
type probe struct {
	s       *stack
	h       *hop
	hopCPU  *cpuMeter
	upCPU   *cpuMeter
	selfCPU *cpuMeter
	rss     *rssSampler
	before  map[string]float64
	started time.Time
}

func startProbe(s *stack, h *hop) (*probe, error) {
	p := &probe{s: s, h: h, started: time.Now()}
	var err error
	if p.hopCPU, err = startCPU(h.pids()); err != nil {
		return nil, err
	}
	if p.upCPU, err = startCPU([]int{s.upstream.pid()}); err != nil {
		return nil, err
	}
	if p.selfCPU, err = startCPU([]int{os.Getpid()}); err != nil {
		return nil, err
	}
	if h.admin != "" {
		p.before = scrape(h.admin)
	}
	p.rss = sampleRSS(h.pids())
	return p, nil
}

func (p *probe) finish(m *measurement, requests int64) error {
	rss := p.rss.stop()
	hopCPU, err := p.hopCPU.stop()
	if err != nil {
		return fmt.Errorf("%s: %w (did it exit?)", p.h.name, err)
	}
	upCPU, err := p.upCPU.stop()
	if err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	selfCPU, err := p.selfCPU.stop()
	if err != nil {
		return err
	}
	n := float64(max(requests, 1))
	m.Requests = requests
	m.CPU = map[string]float64{}
	var total time.Duration
	for i, pr := range p.h.procs {
		m.CPU[pr.name] = us(hopCPU[i]) / n
		total += hopCPU[i]
	}
	m.CPUPerReq = us(total) / n
	m.UpstreamCPUPerReq = us(upCPU[0]) / n
	m.GenCPUPerReq = us(selfCPU[0]) / n
	m.RSSMaxMB = float64(rss) / (1 << 20)
	if p.h.admin != "" {
		time.Sleep(200 * time.Millisecond) // the decision log flushes asynchronously
		after := scrape(p.h.admin)
		m.Imagegate = map[string]float64{}
		for k, v := range after {
			if d := v - p.before[k]; d != 0 {
				m.Imagegate[k] = d
			}
		}
		if p.h.decisionLog != "" {
			// The log holds every event; keep the disk use of long runs bounded.
			_ = os.Truncate(p.h.decisionLog, 0)
		}
	}
	return nil
}

// scrape reads imagegate's counters of interest from /metrics, summed over labels.
func scrape(admin string) map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		base, labels, _ := strings.Cut(name, "{")
		key := ""
		switch base {
		case "imagegate_requests_total", "imagegate_decision_log_events_total", "imagegate_decision_log_dropped_total",
			"imagegate_authn_cache_hits_total", "imagegate_rejected_requests_total", "imagegate_filtered_items_total":
			key = base
		case "imagegate_enrich_cache_lookups_total":
			// every lookup counts in the total; hits also under their own key
			key = base
			if strings.Contains(labels, `result="hit"`) {
				if v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); err == nil {
					out[base+"{hit}"] += v
				}
			}
		default:
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err == nil {
			out[key] += v
		}
	}
	return out
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// writePolicies writes the shipped production policies and their data for OPA.
func writePolicies(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	mods, err := policies.Modules()
	if err != nil {
		return "", err
	}
	for name, src := range mods {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			return "", err
		}
	}
	data, err := fs.ReadFile(policies.FS(), policies.DataFile)
	if err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "data.json"), data, 0o644)
}

// loadavg is /proc/loadavg's first three fields: other work on the machine shows there.
func loadavg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	return strings.Join(f[:min(3, len(f))], " ")
}

// machineFacts describes where and how the run was made.
func machineFacts(o *options) map[string]string {
	facts := map[string]string{
		"nproc":      strconv.Itoa(runtime.NumCPU()),
		"go":         runtime.Version(),
		"started_at": time.Now().UTC().Format(time.RFC3339),
		"label":      o.label,
		"command":    os.Getenv("BENCH_COMMAND"),
	}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				facts["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		facts["memory"] = strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0])
	}
	cmdOut := func(name string, args ...string) string {
		// wrk -v prints its version and exits 1: keep any output.
		out, err := exec.Command(name, args...).CombinedOutput()
		if len(out) == 0 {
			return fmt.Sprintf("? (%v)", err)
		}
		return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	facts["kernel"] = cmdOut("uname", "-r")
	facts["loadavg_start"] = loadavg()
	facts["wrk"] = cmdOut(o.wrk, "-v")
	facts["haproxy"] = cmdOut(o.haproxy, "-v")
	facts["opa"] = cmdOut(o.opa, "version")
	facts["imagegate"] = cmdOut(o.imagegate, "version")
	facts["git"] = cmdOut("git", "describe", "--always", "--dirty")
	return facts
}
