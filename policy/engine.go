// Package policy runs imagegate's Rego policies with embedded OPA: it compiles a policy
// set once, prepares the two queries the proxy asks, and swaps the whole set atomically on
// reload so that no request is ever decided by a half-loaded policy. A reload that fails
// keeps the set in force and is reported (Status, the Observer).
package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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

// Source yields the policy files: .rego modules and data.json/data.yaml documents, laid
// out as OPA lays out a bundle directory. Rego tests (*_test.rego) are not part of the
// production policy; they run before a reload when the engine is asked to.
type Source struct {
	// Name describes the source in logs ("embedded", a directory path).
	Name string
	// FS holds the files.
	FS fs.FS
}

// DirSource reads policies from a directory on disk.
func DirSource(dir string) Source { return Source{Name: dir, FS: os.DirFS(dir)} }

// Set is a policy set ready to compile: modules (tests separate) and data.
type Set struct {
	// Name says where the set came from (a directory, a bundle URL).
	Name string
	// Modules are the production modules by file name.
	Modules map[string]*ast.Module
	// Tests are the *_test.rego modules, run by RunTests.
	Tests map[string]*ast.Module
	// Data is the base document under data.
	Data map[string]any
	// Revision identifies the set: a bundle's manifest revision, or a digest.
	Revision string
}

// Observer is told about every load; nil-safe.
type Observer interface {
	// PolicyLoaded is called after each load attempt with its error (nil on success).
	PolicyLoaded(source, revision string, err error)
}

// Status is what the engine reports about its policy, for /readyz and the logs.
type Status struct {
	Revision  string
	Source    string
	LoadedAt  time.Time
	LastError error
	ErrorAt   time.Time
}

// Engine evaluates the policy set in force. It is safe for concurrent use.
type Engine struct {
	current atomic.Pointer[prepared]
	status  atomic.Pointer[Status]
	loadMu  sync.Mutex
	source  *Source
	// sourceDigest is the digest of the source files last read, so that a watch
	// started after the load still notices a change made in between.
	sourceDigest atomic.Value
	observer     Observer
	// testOnLoad runs a set's Rego tests before it may replace the one in force.
	testOnLoad bool
	// extraData yields data documents merged into every set loaded (WithData).
	extraData func() (map[string]any, error)
}

type prepared struct {
	decision rego.PreparedEvalQuery
	visible  rego.PreparedEvalQuery
	revision string
	// memo remembers answers (memo.go); nil when the policy's answers may vary.
	memo *memo
}

// Option configures an Engine.
type Option func(*Engine)

// WithObserver reports loads to o.
func WithObserver(o Observer) Option { return func(e *Engine) { e.observer = o } }

// WithData merges the documents f yields (rooted at OPA's data) into every set loaded,
// reading them again on each load; a value both the set and f define refuses the set.
// The reseller limits file (config reseller.file) comes in this way.
func WithData(f func() (map[string]any, error)) Option {
	return func(e *Engine) { e.extraData = f }
}

// WithTestsOnLoad makes every load run the set's Rego tests first; a failing test
// refuses the set.
func WithTestsOnLoad(on bool) Option { return func(e *Engine) { e.testOnLoad = on } }

// New compiles the policies of src and prepares the queries; an error means no engine.
func New(ctx context.Context, src Source, opts ...Option) (*Engine, error) {
	e := NewEmpty(opts...)
	e.source = &src
	if err := e.Reload(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// NewEmpty returns an engine with no policy yet: every evaluation fails (and so denies)
// until Load succeeds. Bundle sources start this way.
func NewEmpty(opts ...Option) *Engine {
	e := &Engine{}
	for _, o := range opts {
		o(e)
	}
	e.status.Store(&Status{})
	return e
}

// Revision identifies the policy set in force ("" before the first load).
func (e *Engine) Revision() string {
	if p := e.current.Load(); p != nil {
		return p.revision
	}
	return ""
}

// Status reports the policy in force and the last failed load, if any came after it.
func (e *Engine) Status() Status { return *e.status.Load() }

// Ready says whether a policy is in force.
func (e *Engine) Ready() bool { return e.current.Load() != nil }

// Reload reads the engine's Source again and loads it. On error the policy in force stays.
func (e *Engine) Reload(ctx context.Context) error {
	if e.source == nil {
		return errors.New("policy: engine has no source to reload")
	}
	if d, err := digestFS(e.source.FS); err == nil {
		e.sourceDigest.Store(d)
	}
	set, err := ReadSet(*e.source)
	if err != nil {
		e.failed(e.source.Name, err)
		return err
	}
	return e.Load(ctx, set)
}

// Load compiles set, runs its tests when configured, and swaps it in. On error the
// policy in force stays.
func (e *Engine) Load(ctx context.Context, set Set) error {
	e.loadMu.Lock()
	defer e.loadMu.Unlock()
	var err error
	if e.extraData != nil {
		set, err = withExtraData(set, e.extraData)
	}
	var p *prepared
	if err == nil {
		p, err = compile(ctx, set)
	}
	if err == nil && e.testOnLoad {
		err = RunTests(ctx, set)
	}
	if err != nil {
		err = fmt.Errorf("policy %s: %w", set.Name, err)
		e.failed(set.Name, err)
		return err
	}
	e.current.Store(p)
	e.status.Store(&Status{Revision: p.revision, Source: set.Name, LoadedAt: time.Now()})
	if e.observer != nil {
		e.observer.PolicyLoaded(set.Name, p.revision, nil)
	}
	return nil
}

func (e *Engine) failed(source string, err error) {
	st := *e.status.Load()
	st.LastError, st.ErrorAt = err, time.Now()
	e.status.Store(&st)
	if e.observer != nil {
		e.observer.PolicyLoaded(source, "", err)
	}
}

// ReadSet loads the policy files of src.
func ReadSet(src Source) (Set, error) {
	res, err := loader.NewFileLoader().
		WithFS(src.FS).
		WithProcessAnnotation(true).
		Filtered([]string{"."}, func(_ string, info fs.FileInfo, depth int) bool {
			name := info.Name()
			if depth > 0 && strings.HasPrefix(name, ".") {
				// Hidden entries: Kubernetes keeps a ConfigMap's previous and next
				// versions in ..data and ..<timestamp> beside the files.
				return true
			}
			return !info.IsDir() && !(strings.HasSuffix(name, ".rego") ||
				name == "data.json" || name == "data.yaml" || name == "data.yml")
		})
	if err != nil {
		return Set{}, fmt.Errorf("policy %s: load: %w", src.Name, err)
	}
	set := Set{Name: src.Name, Modules: map[string]*ast.Module{}, Tests: map[string]*ast.Module{}, Data: res.Documents}
	digest := sha256.New()
	names := make([]string, 0, len(res.Modules))
	for name := range res.Modules {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		m := res.Modules[name]
		if strings.HasSuffix(name, "_test.rego") {
			set.Tests[name] = m.Parsed
			continue
		}
		set.Modules[name] = m.Parsed
		digest.Write([]byte(name))
		digest.Write(m.Raw)
	}
	data, err := json.Marshal(res.Documents)
	if err != nil {
		return Set{}, fmt.Errorf("policy %s: data: %w", src.Name, err)
	}
	digest.Write(data)
	set.Revision = hex.EncodeToString(digest.Sum(nil))[:12]
	return set, nil
}

func compile(ctx context.Context, set Set) (*prepared, error) {
	if len(set.Modules) == 0 {
		return nil, errors.New("no .rego modules found")
	}
	compiler := ast.NewCompiler().WithEnablePrintStatements(false)
	if compiler.Compile(set.Modules); compiler.Failed() {
		return nil, fmt.Errorf("compile: %w", compiler.Errors)
	}
	if err := checkRulesExist(compiler); err != nil {
		return nil, err
	}
	data := set.Data
	if data == nil {
		data = map[string]any{}
	}
	store := inmem.NewFromObjectWithOpts(data, inmem.OptRoundTripOnWrite(false))
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
	return &prepared{decision: decision, visible: visible, revision: set.Revision, memo: newMemo(compiler)}, nil
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

// withExtraData returns set with the documents of extra merged into a copy of its data.
func withExtraData(set Set, extra func() (map[string]any, error)) (Set, error) {
	docs, err := extra()
	if err != nil {
		return set, err
	}
	merged, err := mergeData(set.Data, docs, "data")
	if err != nil {
		return set, err
	}
	set.Data = merged
	return set, nil
}

// mergeData returns the union of a and b, object by object, without changing either; a
// value both define (other than two objects) is an error naming its path.
func mergeData(a, b map[string]any, path string) (map[string]any, error) {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		old, exists := out[k]
		if !exists {
			out[k] = v
			continue
		}
		oldObj, ok1 := old.(map[string]any)
		newObj, ok2 := v.(map[string]any)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("data %s.%s is defined twice", path, k)
		}
		m, err := mergeData(oldObj, newObj, path+"."+k)
		if err != nil {
			return nil, err
		}
		out[k] = m
	}
	return out, nil
}
