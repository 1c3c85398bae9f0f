// Package integration tests imagegate as a whole: the proxy in the test's process and the
// real binary, in front of the in-memory image API or an upstream that misbehaves.
package integration

import (
	"os"
	"testing"

	"github.com/imagegate/imagegate/tests/testenv"
)

// binary is the imagegate built once for this test process.
var binary string

func TestMain(m *testing.M) { os.Exit(testenv.RunWithBinary(m, "imagegate-it-", &binary)) }
