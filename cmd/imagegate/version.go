package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/imagegate/imagegate/policy"
)

// buildVersion is set at link time: -ldflags "-X main.buildVersion=v1.2.3".
var buildVersion = ""

func version(w io.Writer) error {
	v := buildVersion
	if v == "" {
		v = "devel"
		if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
	}
	_, err := fmt.Fprintf(w, "imagegate %s (%s, policy input contract v%d)\n", v, runtime.Version(), policy.InputVersion)
	return err
}
