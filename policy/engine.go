// Package policy runs imagegate's Rego policies with embedded OPA: it compiles a policy
// set once, prepares the two queries the proxy asks, and swaps the whole set atomically on
// reload so that no request is ever decided by a half-loaded policy.
package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// The queries imagegate asks; docs/policy-input.md is their contract.
const (
	DecisionQuery   = "data.imagegate.decision"
	VisibleIDsQuery = "data.imagegate.visible_ids"
)

// Source yields the policy files: .rego modules (tests excluded) and data.json/data.yaml
// documents, laid out as OPA lays out a bundle directory.
type Source struct {
	// Name describes the source in logs ("embedded", a directory path).
	Name string
	// FS holds the files.
	FS fs.FS
}

// DirSource reads policies from a directory on disk.
func DirSource(dir string) Source { return Source{Name: dir, FS: os.DirFS(dir)} }

// Engine evaluates the current policy set. It is safe for concurrent use.
type Engine struct {
	source  Source
	current atomic.Pointer[prepared]
	// reloadMu serialises reloads; evaluation never takes it.
	reloadMu sync.Mutex
}

type prepared struct {
	decision rego.PreparedEvalQuery
	visible  rego.PreparedEvalQuery
	revision string
}

// New compiles the policies of src and prepares the queries; an error means no engine.
func New(ctx context.Context, src Source) (*Engine, error) {
	e := &Engine{source: src}
	if err := e.Reload(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// Revision identifies the policy set in force (a digest of its modules and data).
func (e *Engine) Revision() string { return e.current.Load().revision }

// Reload compiles the source again and swaps it in. On error the policy in force stays.
func (e *Engine) Reload(ctx context.Context) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	p, err := compile(ctx, e.source)
	if err != nil {
		return fmt.Errorf("policy %s: %w", e.source.Name, err)
	}
	e.current.Store(p)
	return nil
}

func compile(ctx context.Context, src Source) (*prepared, error) {
	res, err := loader.NewFileLoader().
		WithFS(src.FS).
		WithProcessAnnotation(true).
		Filtered([]string{"."}, func(_ string, info fs.FileInfo, _ int) bool {
			name := info.Name()
			// Tests belong to `go test ./policies/`, not to the production policy.
			return !info.IsDir() && (strings.HasSuffix(name, "_test.rego") ||
				!(strings.HasSuffix(name, ".rego") || name == "data.json" || name == "data.yaml" || name == "data.yml"))
		})
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if len(res.Modules) == 0 {
		return nil, errors.New("no .rego modules found")
	}
	modules := make(map[string]*ast.Module, len(res.Modules))
	digest := sha256.New()
	names := make([]string, 0, len(res.Modules))
	for name := range res.Modules {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		m := res.Modules[name]
		modules[name] = m.Parsed
		digest.Write([]byte(name))
		digest.Write(m.Raw)
	}
	compiler := ast.NewCompiler().WithEnablePrintStatements(false)
	if compiler.Compile(modules); compiler.Failed() {
		return nil, fmt.Errorf("compile: %w", compiler.Errors)
	}
	dataJSON := fmt.Appendf(nil, "%v", ast.MustInterfaceToValue(res.Documents))
	digest.Write(dataJSON)
	store := inmem.NewFromObjectWithOpts(res.Documents, inmem.OptRoundTripOnWrite(false))

	prepare := func(query string) (rego.PreparedEvalQuery, error) {
		pq, err := rego.New(
			rego.Query(query),
			rego.Compiler(compiler),
			rego.Store(store),
		).PrepareForEval(ctx)
		if err != nil {
			return pq, fmt.Errorf("prepare %s: %w", query, err)
		}
		return pq, nil
	}
	decision, err := prepare(DecisionQuery)
	if err != nil {
		return nil, err
	}
	visible, err := prepare(VisibleIDsQuery)
	if err != nil {
		return nil, err
	}
	if err := checkRulesExist(compiler); err != nil {
		return nil, err
	}
	return &prepared{
		decision: decision,
		visible:  visible,
		revision: hex.EncodeToString(digest.Sum(nil))[:12],
	}, nil
}

// checkRulesExist refuses a policy set that does not define the rules the proxy asks for:
// an undefined decision would deny everything, which is safe but surely a mistake, so it
// is better found at load time than on the first request.
func checkRulesExist(c *ast.Compiler) error {
	for _, q := range []string{DecisionQuery, VisibleIDsQuery} {
		ref := ast.MustParseRef(q)
		if len(c.GetRulesExact(ref)) == 0 && len(c.GetRulesWithPrefix(ref)) == 0 {
			return fmt.Errorf("policy defines no %s", q)
		}
	}
	return nil
}
