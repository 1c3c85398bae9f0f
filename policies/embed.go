// Package policies holds imagegate's shipped Rego policies and their data, embedded in the
// binary. The policy engine loads them from FS unless the operator names a directory or
// a bundle of their own; the contract they implement is docs/policy-input.md.
//
// The Rego tests (*_test.rego) are embedded too, so that `go test ./policies/` and an
// operator's `opa test` see the same files; Modules leaves them out of production.
package policies

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
)

//go:embed *.rego data.json
var files embed.FS

// DataFile is the name of the data document in FS.
const DataFile = "data.json"

// FS returns every embedded file: the policy modules, their tests and data.json, laid out
// as OPA lays out a bundle directory.
func FS() fs.FS { return files }

// Modules returns the production policy modules, file name to Rego source, without the
// tests.
func Modules() (map[string]string, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	modules := make(map[string]string, len(entries))
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".rego") || IsTest(name) {
			continue
		}
		src, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, err
		}
		modules[name] = string(src)
	}
	return modules, nil
}

// Data returns the data document (data.json) the policies read, rooted at OPA's `data`.
func Data() (map[string]any, error) {
	raw, err := fs.ReadFile(files, DataFile)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("policies: %s: %w", DataFile, err)
	}
	return doc, nil
}

// IsTest reports whether a file name is a Rego test module.
func IsTest(name string) bool { return strings.HasSuffix(name, "_test.rego") }
