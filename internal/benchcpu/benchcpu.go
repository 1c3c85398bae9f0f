// Package benchcpu reports the CPU time of a benchmark per operation, beside ns/op.
package benchcpu

import (
	"syscall"
	"testing"
	"time"
)

// PerOp starts counting; the function it returns, called after the benchmark's loop,
// reports the CPU time (user + system of the whole process: every goroutine, the
// garbage collector included) per operation as cpu-ns/op. Unlike ns/op it does not grow
// when other processes take the CPU, and it counts the work done on other cores.
//
//	defer benchcpu.PerOp(b)()
func PerOp(b *testing.B) func() {
	start := processCPU()
	return func() { b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op") }
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
