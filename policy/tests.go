package policy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// RunTests runs the Rego tests of set (its *_test.rego modules) against its modules and
// data, and returns an error naming every failing test. A set without tests passes.
func RunTests(ctx context.Context, set Set) error {
	if len(set.Tests) == 0 {
		return nil
	}
	modules := make(map[string]*ast.Module, len(set.Modules)+len(set.Tests))
	maps.Copy(modules, set.Modules)
	maps.Copy(modules, set.Tests)
	data := set.Data
	if data == nil {
		data = map[string]any{}
	}
	ch, err := tester.NewRunner().
		SetStore(inmem.NewFromObject(data)).
		RaiseBuiltinErrors(true).
		SetModules(modules).
		RunTests(ctx, nil)
	if err != nil {
		return fmt.Errorf("tests: %w", err)
	}
	var failed []string
	passed := 0
	for r := range ch {
		switch {
		case r.Error != nil:
			failed = append(failed, fmt.Sprintf("%s.%s: %v", r.Package, r.Name, r.Error))
		case r.Fail:
			failed = append(failed, r.Package+"."+r.Name)
		default:
			passed++
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("tests: %d failed (%d passed): %s", len(failed), passed, strings.Join(failed, "; "))
	}
	if passed == 0 {
		return errors.New("tests: none ran")
	}
	return nil
}
