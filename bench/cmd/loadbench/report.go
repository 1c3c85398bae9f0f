package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// measurement is one run of one hop on one workload.
type measurement struct {
	Repeat      int     `json:"repeat"`
	Workload    string  `json:"workload"`
	Hop         string  `json:"hop"`
	Kind        string  `json:"kind"` // rate, saturation or overload
	OfferedRate float64 `json:"offered_rate,omitempty"`
	Requests    int64   `json:"requests"`
	RPS         float64 `json:"rps"`
	// CPUPerReq is the CPU time of the hop's processes per request, in µs.
	CPUPerReq         float64            `json:"cpu_us_per_req"`
	CPU               map[string]float64 `json:"cpu_us_per_req_by_process,omitempty"`
	UpstreamCPUPerReq float64            `json:"upstream_cpu_us_per_req"`
	GenCPUPerReq      float64            `json:"generator_cpu_us_per_req"`
	RSSMaxMB          float64            `json:"rss_max_mb"`
	Wrk               *wrkResult         `json:"wrk,omitempty"`
	Rate              *rateResult        `json:"rate,omitempty"`
	// Imagegate holds the changes of imagegate's counters during the measurement.
	Imagegate map[string]float64 `json:"imagegate_counters,omitempty"`
}

func newMeasurement(rep int, wl string, h *hop, kind string) measurement {
	return measurement{Repeat: rep, Workload: wl, Hop: h.name, Kind: kind}
}

type peak struct {
	Hop     string `json:"hop"`
	Process string `json:"process"`
	VmHWM   int64  `json:"vmhwm_bytes"`
}

// results is everything a run measured (results.json) and the report made of it.
type results struct {
	Facts        map[string]string `json:"facts"`
	Options      map[string]any    `json:"options"`
	Measurements []measurement     `json:"measurements"`
	PeakRSS      []peak            `json:"peak_rss"`
}

func optionsOf(o *options) map[string]any {
	return map[string]any{
		"quick": o.quick, "repeats": o.repeats, "duration": o.duration.String(), "warmup": o.warmup.String(),
		"connections": o.conns, "rate": o.rate, "download_rate": o.downloadRate, "tenants": o.tenants,
		"hops": o.hops, "workloads": o.workloads, "overload": o.overload.String(), "overload_connections": o.overloadConns,
		"imagegate": o.imagegate,
	}
}

func (r *results) write(dir string) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.json"), raw, 0o644)
}

// find returns the measurement of one repeat.
func (r *results) find(rep int, wl, hop, kind string) (measurement, bool) {
	for _, m := range r.Measurements {
		if m.Repeat == rep && m.Workload == wl && m.Hop == hop && m.Kind == kind {
			return m, true
		}
	}
	return measurement{}, false
}

func (r *results) repeats() int {
	n := 0
	for _, m := range r.Measurements {
		n = max(n, m.Repeat+1)
	}
	return n
}

// series is f of every repeat of one hop, workload and kind.
func (r *results) series(wl, hop, kind string, f func(measurement) float64) []float64 {
	var out []float64
	for rep := range r.repeats() {
		if m, ok := r.find(rep, wl, hop, kind); ok {
			out = append(out, f(m))
		}
	}
	return out
}

// ratio is f(a)/f(b) of each repeat, both measured in the same repeat.
func (r *results) ratio(wl, a, b, kind string, f func(measurement) float64) []float64 {
	return r.pairwise(wl, a, b, kind, f, func(x, y float64) (float64, bool) { return x / y, y != 0 })
}

// diff is f(a)-f(b) of each repeat.
func (r *results) diff(wl, a, b, kind string, f func(measurement) float64) []float64 {
	return r.pairwise(wl, a, b, kind, f, func(x, y float64) (float64, bool) { return x - y, true })
}

// pairwise combines f of hops a and b within each repeat that measured both.
func (r *results) pairwise(wl, a, b, kind string, f func(measurement) float64, op func(x, y float64) (float64, bool)) []float64 {
	var out []float64
	for rep := range r.repeats() {
		ma, ok1 := r.find(rep, wl, a, kind)
		mb, ok2 := r.find(rep, wl, b, kind)
		if !ok1 || !ok2 {
			continue
		}
		if v, ok := op(f(ma), f(mb)); ok {
			out = append(out, v)
		}
	}
	return out
}

func (r *results) median(wl, hop, kind string, f func(measurement) float64) float64 {
	return stat(r.series(wl, hop, kind, f)).med
}

type summary struct {
	med, min, max float64
	n             int
}

func stat(xs []float64) summary {
	if len(xs) == 0 {
		return summary{}
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return summary{med: med, min: s[0], max: s[len(s)-1], n: len(s)}
}

// format prints the median and, over several repeats, the range.
func (s summary) format(verb string) string {
	if s.n == 0 {
		return "–"
	}
	if s.n == 1 || s.min == s.max {
		return fmt.Sprintf(verb, s.med)
	}
	return fmt.Sprintf(verb+" ("+verb+"–"+verb+")", s.med, s.min, s.max)
}

var (
	rps       = func(m measurement) float64 { return m.RPS }
	cpu       = func(m measurement) float64 { return m.CPUPerReq }
	p50       = func(m measurement) float64 { return m.Rate.P50 }
	p90       = func(m measurement) float64 { return m.Rate.P90 }
	p99       = func(m measurement) float64 { return m.Rate.P99 }
	rss       = func(m measurement) float64 { return m.RSSMaxMB }
	upCPU     = func(m measurement) float64 { return m.UpstreamCPUPerReq }
	genCPU    = func(m measurement) float64 { return m.GenCPUPerReq }
	workTitle = map[string]string{
		wlList:     "list: GET /v2/images (25 public images)",
		wlGet:      "get: GET /v2/images/{id} (the tenant's private image)",
		wlDownload: "download: GET /v2/images/{id}/file (1 MiB)",
		wlMember:   `member update: PUT /v2/images/{id}/members/{tenant} {"status": "accepted"}`,
	}
)

func (r *results) hops() []string {
	var out []string
	for _, m := range r.Measurements {
		if m.Kind != "overload" && !slices.Contains(out, m.Hop) {
			out = append(out, m.Hop)
		}
	}
	order := []string{hopDirect, hopHAProxy, hopGoBare, hopGoTuned, hopSidecar, hopBaseline, hopImagegate}
	sort.SliceStable(out, func(i, j int) bool { return slices.Index(order, out[i]) < slices.Index(order, out[j]) })
	return out
}

func (r *results) workloads() []string {
	var out []string
	for _, wl := range workloads {
		for _, m := range r.Measurements {
			if m.Workload == wl && m.Kind != "overload" {
				out = append(out, wl)
				break
			}
		}
	}
	return out
}

// markdown is the report: per workload a table of every hop, then the targets.
func (r *results) markdown() string {
	var b strings.Builder
	f := r.Facts
	fmt.Fprintf(&b, "## Load benchmark run %s\n\n", f["started_at"])
	if f["label"] != "" {
		fmt.Fprintf(&b, "Label: **%s**\n\n", f["label"])
	}
	if f["command"] != "" {
		fmt.Fprintf(&b, "Command: `%s`\n\n", f["command"])
	}
	fmt.Fprintf(&b, "- machine: %s × `%s`, %s, Linux %s; load average %s at the start, %s at the end (other work shares the machine)\n",
		f["nproc"], f["cpu"], f["memory"], f["kernel"], f["loadavg_start"], f["loadavg_end"])
	fmt.Fprintf(&b, "- software: %s, %s, %s, `%s`, imagegate `%s` (tree %s)\n", f["go"], f["wrk"], f["haproxy"],
		strings.ReplaceAll(f["opa"], "\n", " "), f["imagegate"], f["git"])
	o := r.Options
	fmt.Fprintf(&b, "- run: %v repeats × %v per measurement (warm-up %v), wrk `-t1 -c%v`, fixed rate %v req/s (downloads %v req/s), %v tenants with their own RS256 token\n",
		o["repeats"], o["duration"], o["warmup"], o["connections"], o["rate"], o["download_rate"], o["tenants"])
	fmt.Fprintf(&b, "- every cell: median of the repeats (min–max); ratios are taken within each repeat, then summarised\n")
	fmt.Fprintf(&b, "- CPU µs/req: user+system time of the hop's processes only (/proc/<pid>/stat), divided by the requests it served; go+opa-sidecar counts the hop and OPA\n\n")

	hops := r.hops()
	has := func(h string) bool { return slices.Contains(hops, h) }
	for _, wl := range r.workloads() {
		rate := r.Options["rate"]
		if wl == wlDownload {
			rate = r.Options["download_rate"]
		}
		fmt.Fprintf(&b, "### %s\n\n", workTitle[wl])
		fmt.Fprintf(&b, "| hop | req/s at saturation | ×direct | ×go-bare | ×sidecar | CPU µs/req (sat.) | CPU ×go-bare | CPU µs/req (@%v/s) | CPU ×go-bare | p50 / p90 / p99 ms (@%v/s) | +p50 / +p99 ms over direct | RSS max MB |\n", rate, rate)
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, h := range hops {
			ratioOr := func(other string) string {
				if !has(other) {
					return "–"
				}
				return stat(r.ratio(wl, h, other, "saturation", rps)).format("%.2f")
			}
			cpuRatio := func(kind string) string {
				if h == hopDirect || !has(hopGoBare) {
					return "–"
				}
				return stat(r.ratio(wl, h, hopGoBare, kind, cpu)).format("%.2f")
			}
			lat := fmt.Sprintf("%s / %s / %s", stat(r.series(wl, h, "rate", p50)).format("%.3f"),
				stat(r.series(wl, h, "rate", p90)).format("%.3f"), stat(r.series(wl, h, "rate", p99)).format("%.3f"))
			added := "–"
			if h != hopDirect {
				added = stat(r.diff(wl, h, hopDirect, "rate", p50)).format("%.3f") + " / " +
					stat(r.diff(wl, h, hopDirect, "rate", p99)).format("%.3f")
			}
			cpuSat, cpuRate, mem := "–", "–", "–"
			if h != hopDirect {
				cpuSat = stat(r.series(wl, h, "saturation", cpu)).format("%.0f")
				cpuRate = stat(r.series(wl, h, "rate", cpu)).format("%.0f")
				all := append(r.series(wl, h, "saturation", rss), r.series(wl, h, "rate", rss)...)
				mem = fmt.Sprintf("%.0f", slices.Max(all))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", h,
				stat(r.series(wl, h, "saturation", rps)).format("%.0f"), ratioOr(hopDirect), ratioOr(hopGoBare), ratioOr(hopSidecar),
				cpuSat, cpuRatio("saturation"), cpuRate, cpuRatio("rate"), lat, added, mem)
		}
		b.WriteString("\n")
	}

	b.WriteString(r.targets())
	b.WriteString(r.overloadTable())
	b.WriteString(r.detail())
	return b.String()
}

// targets checks the targets, all ratios of one run.
func (r *results) targets() string {
	hops := r.hops()
	if !slices.Contains(hops, hopImagegate) || !slices.Contains(hops, hopGoBare) {
		return ""
	}
	var b strings.Builder
	b.WriteString("### Targets\n\n| target | measured (median of repeats) | met |\n|---|---|---|\n")
	row := func(target string, ok bool, measured ...string) {
		mark := "yes"
		if !ok {
			mark = "**no**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", target, strings.Join(measured, "; "), mark)
	}
	both := []string{wlList, wlGet}
	collect := func(f func(wl string) (string, float64)) ([]string, []float64) {
		var labels []string
		var vals []float64
		for _, wl := range both {
			if !slices.Contains(r.workloads(), wl) {
				continue
			}
			l, v := f(wl)
			labels, vals = append(labels, l), append(vals, v)
		}
		return labels, vals
	}
	all := func(vals []float64, ok func(float64) bool) bool {
		if len(vals) == 0 {
			return false
		}
		for _, v := range vals {
			if !ok(v) {
				return false
			}
		}
		return true
	}
	var labels []string
	var vals []float64
	for _, kind := range []string{"saturation", "rate"} {
		l, v := collect(func(wl string) (string, float64) {
			x := stat(r.ratio(wl, hopImagegate, hopGoBare, kind, cpu)).med
			return fmt.Sprintf("%s %s %.2f×", wl, kind, x), x
		})
		labels, vals = append(labels, l...), append(vals, v...)
	}
	row("CPU per request ≤ 1.25× go-bare (list, get)", all(vals, func(v float64) bool { return v <= 1.25 }), labels...)
	stretch := all(vals, func(v float64) bool { return v < 1 })

	labels, vals = collect(func(wl string) (string, float64) {
		x := stat(r.ratio(wl, hopImagegate, hopGoBare, "saturation", rps)).med
		return fmt.Sprintf("%s %.2f×", wl, x), x
	})
	row("throughput ≥ 0.8× go-bare (list, get)", all(vals, func(v float64) bool { return v >= 0.8 }), labels...)
	if slices.Contains(hops, hopSidecar) {
		labels, vals = collect(func(wl string) (string, float64) {
			x := stat(r.ratio(wl, hopImagegate, hopSidecar, "saturation", rps)).med
			return fmt.Sprintf("%s %.2f×", wl, x), x
		})
		row("throughput ≥ 2.5× go+opa-sidecar (list, get)", all(vals, func(v float64) bool { return v >= 2.5 }), labels...)
	}
	at := fmt.Sprintf("at %v req/s", r.Options["rate"])
	labels, vals = collect(func(wl string) (string, float64) {
		x := stat(r.diff(wl, hopImagegate, hopGoBare, "rate", p50)).med
		return fmt.Sprintf("%s %+.3f ms", wl, x), x
	})
	row("added p50 over direct within 0.15 ms of go-bare's, "+at, all(vals, func(v float64) bool { return v <= 0.15 }), labels...)
	labels, vals = collect(func(wl string) (string, float64) {
		x := stat(r.diff(wl, hopImagegate, hopGoBare, "rate", p99)).med
		return fmt.Sprintf("%s %+.3f ms", wl, x), x
	})
	row("added p99 over direct within 1 ms of go-bare's, "+at, all(vals, func(v float64) bool { return v <= 1 }), labels...)
	if slices.Contains(r.workloads(), wlDownload) {
		x := stat(r.ratio(wlDownload, hopImagegate, hopGoBare, "saturation", rps)).med
		row("1 MiB download throughput ≥ 0.9× go-bare", x >= 0.9, fmt.Sprintf("%.2f×", x))
	}
	maxRSS := 0.0
	for _, m := range r.Measurements {
		if m.Hop == hopImagegate {
			maxRSS = max(maxRSS, m.RSSMaxMB)
		}
	}
	for _, p := range r.PeakRSS {
		if p.Hop == hopImagegate {
			maxRSS = max(maxRSS, float64(p.VmHWM)/(1<<20))
		}
	}
	row("imagegate RSS ≤ 100 MB throughout (peak VmHWM, overload included)", maxRSS <= 100, fmt.Sprintf("%.0f MB", maxRSS))
	row("stretch: CPU per request below go-bare's (list, get)", stretch, "see the CPU row")
	b.WriteString("\n")
	return b.String()
}

func (r *results) overloadTable() string {
	var rows []measurement
	for _, m := range r.Measurements {
		if m.Kind == "overload" {
			rows = append(rows, m)
		}
	}
	if len(rows) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### Overload: 1 MiB downloads offered faster than they can be served (%v, up to %v in flight)\n\n",
		r.Options["overload"], r.Options["overload_connections"])
	b.WriteString("| hop | offered req/s | served req/s (200, checked) | refused (503) | other errors | still queued at the end | RSS max MB | CPU µs/req served |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, m := range rows {
		served := float64(max(m.Rate.OK, 1))
		var errs []string
		for _, k := range slices.Sorted(maps.Keys(m.Rate.Errors)) {
			errs = append(errs, fmt.Sprintf("%d × %s", m.Rate.Errors[k], k))
		}
		if len(errs) == 0 {
			errs = []string{"0"}
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %d | %s | %d | %.0f | %.0f |\n", m.Hop, m.OfferedRate, m.RPS, m.Rate.Refused,
			strings.Join(errs, ", "), m.Rate.Unfinished, m.RSSMaxMB, m.CPUPerReq*float64(m.Requests)/served)
	}
	b.WriteString("\n")
	return b.String()
}

// detail lists what the main tables leave out: upstream and generator CPU, and what
// imagegate counted.
func (r *results) detail() string {
	var b strings.Builder
	b.WriteString("### Detail: CPU µs/req of the upstream and of the load generator at saturation; imagegate's counters\n\n")
	b.WriteString("| workload | hop | upstream CPU µs/req | wrk CPU µs/req | imagegate: decision events / requests, enrich cache hit ratio |\n|---|---|---:|---:|---|\n")
	for _, wl := range r.workloads() {
		for _, h := range r.hops() {
			counters := ""
			if h == hopImagegate || h == hopBaseline {
				var req, ev, drop, hit, look float64
				for _, m := range r.Measurements {
					if m.Hop == h && m.Workload == wl && m.Kind != "overload" {
						req += m.Imagegate["imagegate_requests_total"]
						ev += m.Imagegate["imagegate_decision_log_events_total"]
						drop += m.Imagegate["imagegate_decision_log_dropped_total"]
						hit += m.Imagegate["imagegate_enrich_cache_lookups_total{hit}"]
						look += m.Imagegate["imagegate_enrich_cache_lookups_total"]
					}
				}
				counters = fmt.Sprintf("%.0f events / %.0f requests (%.0f dropped)", ev, req, drop)
				if look > 0 {
					counters += fmt.Sprintf(", %.1f%% hits", 100*hit/look)
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", wl, h,
				stat(r.series(wl, h, "saturation", upCPU)).format("%.0f"),
				stat(r.series(wl, h, "saturation", genCPU)).format("%.0f"), counters)
		}
	}
	b.WriteString("\n")
	return b.String()
}
