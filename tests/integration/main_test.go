// Package integration tests imagegate as a whole: the proxy in the test's process and the
// real binary, in front of the in-memory image API or an upstream that misbehaves.
package integration

import (
	"fmt"
	"os"
	"testing"

	"github.com/imagegate/imagegate/tests/testenv"
)

// binary is the imagegate built once for this test process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "imagegate-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary, err = testenv.BuildBinary(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
