// Package attack is imagegate's hardening suite: the attack corpus of DESIGN §6 run
// against the real binary, the resource limits and the faults it must survive. Every
// case is listed, with the threat it stands for, in docs/security.md.
package attack

import (
	"os"
	"testing"

	"github.com/imagegate/imagegate/tests/testenv"
)

// binary is the imagegate built once for this test process.
var binary string

func TestMain(m *testing.M) { os.Exit(testenv.RunWithBinary(m, "imagegate-attack-", &binary)) }
