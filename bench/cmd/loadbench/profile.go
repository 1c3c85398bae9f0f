package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// profiles takes, per workload, a CPU profile of imagegate (pprofgate: imagegate with
// net/http/pprof) and of go-bare while wrk saturates them and a heap profile after, then
// a CPU profile of each at the fixed rate (*-rate.cpu.pb.gz): below saturation the
// costs are not the same, wake-ups weigh more.
func profiles(ctx context.Context, o *options, s *stack, f *fixture, reqFiles map[string]string) error {
	d := max(o.duration, 5*time.Second)
	client := newClient(512)
	defer client.CloseIdleConnections()
	res := &results{}
	for _, wl := range o.workloads {
		for _, h := range s.hops {
			if h.pprof == "" {
				continue
			}
			base := filepath.Join(o.out, fmt.Sprintf("profile-%s-%s", h.name, wl))
			errc := make(chan error, 1)
			go func() {
				errc <- fetch(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", h.pprof, int((d-time.Second).Seconds())), base+".cpu.pb.gz")
			}()
			calls := f.calls[wl]
			w, err := runWrk(ctx, o, h.url, reqFiles[wl], calls[0].status, f.lengths(wl), d)
			if err != nil {
				return err
			}
			if err := <-errc; err != nil {
				return err
			}
			if bad := w.failures(); bad != "" {
				return &refusal{fmt.Sprintf("%s %s while profiling: %s", h.name, wl, bad)}
			}
			if err := fetch(fmt.Sprintf("http://%s/debug/pprof/heap", h.pprof), base+".heap.pb.gz"); err != nil {
				return err
			}
			if out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount", "40", base+".cpu.pb.gz").CombinedOutput(); err == nil {
				_ = os.WriteFile(base+".cpu.top.txt", out, 0o644)
			}
			logf("profiled %s %s at %.0f req/s: %s.cpu.pb.gz", h.name, wl, w.rps(), base)
			res.Measurements = append(res.Measurements, measurement{Workload: wl, Hop: h.name, Kind: "saturation", RPS: w.rps()})

			rate := o.rate
			if wl == wlDownload {
				rate = o.downloadRate
			}
			go func() {
				errc <- fetch(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", h.pprof, int((d-time.Second).Seconds())), base+"-rate.cpu.pb.gz")
			}()
			rr := runRate(ctx, client, h.url, calls, rateSpec{rate: rate, dur: d, maxInFlight: 512, grace: 10 * time.Second})
			if err := <-errc; err != nil {
				return err
			}
			if bad := rr.failures(); bad != "" {
				return &refusal{fmt.Sprintf("%s %s at %.0f req/s while profiling: %s", h.name, wl, rate, bad)}
			}
			logf("profiled %s %s at %.0f req/s (fixed rate): %s-rate.cpu.pb.gz", h.name, wl, rate, base)
		}
	}
	if o.overload > 0 && slicesContains(o.workloads, wlDownload) {
		// Where the memory goes when downloads arrive faster than they can be served: a
		// heap profile and the runtime's memory statistics half-way through.
		for _, h := range s.hops {
			if h.pprof == "" {
				continue
			}
			base := filepath.Join(o.out, fmt.Sprintf("profile-%s-overload", h.name))
			done := make(chan error, 1)
			go func() {
				time.Sleep(o.overload / 2)
				err := fetch(fmt.Sprintf("http://%s/debug/pprof/heap", h.pprof), base+".heap.pb.gz")
				if err == nil {
					err = fetch(fmt.Sprintf("http://%s/debug/pprof/heap?debug=1", h.pprof), base+".heap.txt")
				}
				if err == nil {
					err = fetch(fmt.Sprintf("http://%s/debug/pprof/goroutine?debug=1", h.pprof), base+".goroutines.txt")
				}
				done <- err
			}()
			// Offered as in a measuring run: 2.5× what imagegate served at saturation above.
			m, err := overload(ctx, o, s, h, f, res)
			if err != nil {
				return err
			}
			if err := <-done; err != nil {
				return err
			}
			logf("overload profile of %s (RSS max %.0f MB): %s.heap.txt", h.name, m.RSSMaxMB, base)
		}
	}
	return nil
}

func fetch(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
