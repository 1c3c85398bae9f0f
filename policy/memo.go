package policy

import (
	"crypto/sha256"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// A policy's answer is a function of its input, its modules and its data, unless it
// calls a built-in whose result depends on something else: the clock, the network,
// chance. A compiled policy set that calls none of those answers the same input the same
// way every time, so the engine remembers its answers and evaluates an input only once:
// evaluating the shipped policy costs about a hundred times more than looking an answer
// up. The memo belongs to one compiled set (a reload starts afresh) and is bounded.
//
// The key is the SHA-256 of the input's Go values written canonically (inputKey, in
// memokey.go): two inputs have the same key only when they are the same value. It is
// taken from the Go values, before the input is turned into OPA's value type, because on
// a hit that conversion is not needed at all: it was a fifth of a cached GET's CPU. The input holds everything the policy may
// read about a request (the verified claims, the image record and membership looked up
// for it, the page's items), so an answer is reused only for the very same facts.

const (
	// memoDecisions bounds the decisions remembered (a few hundred bytes each).
	memoDecisions = 10000
	// memoPages bounds the visible_ids answers remembered, of pages of at most
	// memoPageItems items (a larger page is rarely asked twice, and costs more to keep).
	memoPages     = 2000
	memoPageItems = 100
	memoShards    = 16
)

// timeDependent are built-ins that read the clock without saying so to OPA's
// Nondeterministic flag.
var timeDependent = map[string]bool{
	"io.jwt.decode_verify":                                   true,
	"crypto.x509.parse_and_verify_certificates":              true,
	"crypto.x509.parse_and_verify_certificates_with_options": true,
}

type memoKey [sha256.Size]byte

type memo struct {
	shards [memoShards]memoShard
}

type memoShard struct {
	mu        sync.Mutex
	decisions map[memoKey]Decision
	pages     map[memoKey]map[string]bool
}

// newMemo returns a memo for the compiled policy set, or nil when the set calls a
// built-in that makes its answers vary for the same input.
func newMemo(c *ast.Compiler) *memo {
	for _, m := range c.Modules {
		if !deterministic(m) {
			return nil
		}
	}
	mm := &memo{}
	for i := range mm.shards {
		mm.shards[i].decisions = map[memoKey]Decision{}
		mm.shards[i].pages = map[memoKey]map[string]bool{}
	}
	return mm
}

// deterministic reports whether m calls no non-deterministic or clock-reading built-in.
func deterministic(m *ast.Module) bool {
	ok := true
	check := func(name string) {
		if b, found := ast.BuiltinMap[name]; found && (b.Nondeterministic || timeDependent[name]) {
			ok = false
		}
	}
	ast.WalkExprs(m, func(e *ast.Expr) bool {
		if e.IsCall() {
			check(e.Operator().String())
		}
		return !ok
	})
	ast.WalkTerms(m, func(t *ast.Term) bool {
		if c, isCall := t.Value.(ast.Call); isCall && len(c) > 0 {
			check(c[0].String())
		}
		return !ok
	})
	return ok
}

func (m *memo) shard(k *memoKey) *memoShard { return &m.shards[int(k[0])%memoShards] }

func (m *memo) decision(k memoKey) (Decision, bool) {
	s := m.shard(&k)
	s.mu.Lock()
	d, ok := s.decisions[k]
	s.mu.Unlock()
	return d, ok
}

func (m *memo) putDecision(k memoKey, d Decision) {
	s := m.shard(&k)
	s.mu.Lock()
	if len(s.decisions) >= memoDecisions/memoShards {
		for old := range s.decisions { // Go's map order is random: a random victim
			delete(s.decisions, old)
			break
		}
	}
	s.decisions[k] = d
	s.mu.Unlock()
}

func (m *memo) page(k memoKey) (map[string]bool, bool) {
	s := m.shard(&k)
	s.mu.Lock()
	ids, ok := s.pages[k]
	s.mu.Unlock()
	return ids, ok
}

func (m *memo) putPage(k memoKey, ids map[string]bool) {
	s := m.shard(&k)
	s.mu.Lock()
	if len(s.pages) >= memoPages/memoShards {
		for old := range s.pages {
			delete(s.pages, old)
			break
		}
	}
	s.pages[k] = ids
	s.mu.Unlock()
}
