package policy

import (
	"crypto/sha256"
	"encoding/binary"
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
// The key is the SHA-256 of the input written canonically (keyOf): two inputs have the
// same key only when they are the same value. The input holds everything the policy may
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

// canonical writes values for keyOf. Its callbacks are bound once, when the pool makes
// it, so that walking a value allocates nothing.
type canonical struct {
	b      []byte
	elem   func(*ast.Term)
	member func(k, v *ast.Term)
}

var canonicals = sync.Pool{New: func() any {
	c := &canonical{b: make([]byte, 0, 4096)}
	c.elem = func(t *ast.Term) { c.value(t.Value) }
	c.member = func(k, v *ast.Term) { c.value(k.Value); c.value(v.Value) }
	return c
}}

// keyOf is the SHA-256 of v written canonically: a tag before every value, the length
// before every string and collection, object members and set elements in OPA's order of
// terms. Different values are different writings.
func keyOf(v ast.Value) memoKey {
	c := canonicals.Get().(*canonical)
	c.b = c.b[:0]
	c.value(v)
	k := memoKey(sha256.Sum256(c.b))
	canonicals.Put(c)
	return k
}

func (c *canonical) value(v ast.Value) {
	switch v := v.(type) {
	case ast.Null:
		c.b = append(c.b, 'z')
	case ast.Boolean:
		if v {
			c.b = append(c.b, 't')
		} else {
			c.b = append(c.b, 'f')
		}
	case ast.Number:
		c.b = appendString(c.b, 'n', string(v))
	case ast.String:
		c.b = appendString(c.b, 's', string(v))
	case *ast.Array:
		c.b = binary.AppendUvarint(append(c.b, 'a'), uint64(v.Len()))
		for i := range v.Len() {
			c.value(v.Elem(i).Value)
		}
	case ast.Object:
		c.b = binary.AppendUvarint(append(c.b, 'o'), uint64(v.Len()))
		v.Foreach(c.member)
	case ast.Set:
		c.b = binary.AppendUvarint(append(c.b, 'S'), uint64(v.Len()))
		v.Foreach(c.elem)
	default:
		// Nothing else is in an input built from Go values; OPA's text is canonical too.
		c.b = appendString(c.b, '?', v.String())
	}
}

func appendString(b []byte, tag byte, s string) []byte {
	return append(binary.AppendUvarint(append(b, tag), uint64(len(s))), s...)
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
