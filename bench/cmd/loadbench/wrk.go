package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// wrkResult is the summary bench/wrk/check.lua prints.
type wrkResult struct {
	Requests      int64 `json:"requests"`
	DurationUS    int64 `json:"duration_us"`
	Bytes         int64 `json:"bytes"`
	ConnectErrors int64 `json:"connect_errors"`
	ReadErrors    int64 `json:"read_errors"`
	WriteErrors   int64 `json:"write_errors"`
	StatusErrors  int64 `json:"status_errors"`
	Timeouts      int64 `json:"timeouts"`
	BadStatus     int64 `json:"bad_status"`
	BadLength     int64 `json:"bad_length"`
	P50US         int64 `json:"p50_us"`
	P90US         int64 `json:"p90_us"`
	P99US         int64 `json:"p99_us"`
	// CPU is wrk's own CPU time.
	CPU time.Duration `json:"-"`
}

// rps is the throughput wrk measured.
func (r wrkResult) rps() float64 {
	if r.DurationUS == 0 {
		return 0
	}
	return float64(r.Requests) / (float64(r.DurationUS) / 1e6)
}

// failures describes what went wrong; "" when every answer was the expected one.
func (r wrkResult) failures() string {
	var out []string
	for _, v := range []struct {
		n    int64
		what string
	}{
		{r.ConnectErrors, "connect errors"}, {r.ReadErrors, "read errors"}, {r.WriteErrors, "write errors"},
		{r.Timeouts, "timeouts"}, {r.BadStatus, "unexpected statuses"}, {r.BadLength, "bodies of an unexpected length"},
	} {
		if v.n > 0 {
			out = append(out, fmt.Sprintf("%d %s", v.n, v.what))
		}
	}
	if r.Requests == 0 {
		out = append(out, "no request completed")
	}
	return strings.Join(out, ", ")
}

// runWrk runs one closed-loop saturation measurement.
func runWrk(ctx context.Context, o *options, url, requests string, status int, lengths string, d time.Duration) (wrkResult, error) {
	// wrk takes whole seconds.
	secs := max(int(math.Ceil(d.Seconds())), 1)
	args := []string{"-t1", "-c" + strconv.Itoa(o.conns), "-d" + strconv.Itoa(secs) + "s", "--timeout", "10s",
		"-s", o.wrkScript, url, "--", requests, strconv.Itoa(status), lengths}
	cmd := exec.CommandContext(ctx, o.wrk, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %v: %s %s", url, err, stdout.String(), stderr.String())
	}
	var res wrkResult
	sc := bufio.NewScanner(&stdout)
	found := false
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "WRKJSON "); ok {
			if err := json.Unmarshal([]byte(rest), &res); err != nil {
				return wrkResult{}, fmt.Errorf("wrk summary %q: %w", rest, err)
			}
			found = true
		}
	}
	if !found {
		return wrkResult{}, fmt.Errorf("wrk printed no summary: %s %s", stdout.String(), stderr.String())
	}
	res.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return res, nil
}
