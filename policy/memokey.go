package policy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"sync"
)

// keyWriter writes an input canonically for the memo: a tag before every value, the
// length before every string and collection, the fields of a struct in a fixed order and
// the members of a map sorted by key. Each writing is self-delimiting, so different
// inputs are different writings.
type keyWriter struct {
	b    []byte
	keys []string // scratch for sorting map keys, reused
	bad  bool     // a value of a type the writer does not know
}

var keyWriters = sync.Pool{New: func() any { return &keyWriter{b: make([]byte, 0, 2048)} }}

// inputKey is the memo key of the input Value(items) would build, or ok false when the
// input holds a value of a type the writer does not know (then it is evaluated, never
// looked up). Every field Value reads must be written here; TestInputKeyCoversInput
// fails when a field is added to Input or to what it holds without a word here.
func inputKey(in *Input, items []Item) (k memoKey, ok bool) {
	w := keyWriters.Get().(*keyWriter)
	w.b, w.keys, w.bad = w.b[:0], w.keys[:0], false
	w.input(in, items)
	if !w.bad {
		k, ok = memoKey(sha256.Sum256(w.b)), true
	}
	if cap(w.b) <= 1<<16 { // a huge input's buffer is not kept
		keyWriters.Put(w)
	}
	return k, ok
}

func (w *keyWriter) input(in *Input, items []Item) {
	op := in.Operation
	w.str(op.Dialect)
	w.str(op.Name)
	w.stringMap(op.Params)
	w.boolean(op.Deprecated)
	w.b = append(w.b, byte(op.Body))

	w.str(in.Method)
	w.str(in.Path)
	w.nilness(in.Query == nil)
	writeMap(w, in.Query, (*keyWriter).strings)
	w.value(in.Body)
	w.nilness(in.Patch == nil)
	w.count(len(in.Patch))
	for _, op := range in.Patch {
		w.str(op.Op)
		w.str(op.Path)
		w.strings(op.Pointer)
		w.boolean(op.HasValue)
		w.value(op.Value)
	}

	w.nilness(in.Principal == nil)
	if p := in.Principal; p != nil {
		w.str(p.User)
		w.str(p.Tenant)
		w.strings(p.Roles)
		w.str(p.Reseller)
		w.str(p.Client)
		w.str(p.Issuer)
		w.value(p.Claims)
		w.num('T', p.ExpiresAt.UnixNano())
	}

	w.nilness(in.Image == nil)
	w.value(in.Image)
	w.nilness(in.Membership == nil)
	if m := in.Membership; m != nil {
		w.str(m.MemberID)
		w.str(m.Status)
	}
	w.nilness(in.Reseller == nil)
	w.value(in.Reseller)
	w.str(in.Dialect)
	w.str(in.UpstreamMode)
	w.str(in.Region)

	w.nilness(items == nil)
	w.count(len(items))
	for _, it := range items {
		w.str(it.ID)
		w.str(it.Owner)
		w.str(it.Visibility)
		w.str(it.MemberStatus)
		w.str(it.Region)
	}
}

func (w *keyWriter) count(n int) { w.b = binary.AppendUvarint(w.b, uint64(n)) }

func (w *keyWriter) str(s string) {
	w.b = append(binary.AppendUvarint(append(w.b, 's'), uint64(len(s))), s...)
}

func (w *keyWriter) strings(ss []string) {
	w.nilness(ss == nil)
	w.count(len(ss))
	for _, s := range ss {
		w.str(s)
	}
}

func (w *keyWriter) boolean(v bool) {
	if v {
		w.b = append(w.b, 't')
	} else {
		w.b = append(w.b, 'f')
	}
}

func (w *keyWriter) nilness(isNil bool) {
	if isNil {
		w.b = append(w.b, 'z')
	} else {
		w.b = append(w.b, 'v')
	}
}

func (w *keyWriter) num(tag byte, v int64) {
	w.b = binary.AppendVarint(append(w.b, tag), v)
}

func (w *keyWriter) stringMap(m map[string]string) {
	w.nilness(m == nil)
	writeMap(w, m, (*keyWriter).str)
}

// writeMap writes the size of m and its members sorted by key, each value with val.
func writeMap[V any](w *keyWriter, m map[string]V, val func(*keyWriter, V)) {
	w.count(len(m))
	keys, mark := sortedKeys(w, m)
	for _, k := range keys {
		w.str(k)
		val(w, m[k])
	}
	w.keys = w.keys[:mark]
}

// sortedKeys returns the keys of m sorted, in w's scratch space, and the mark to give
// that space back to (w.keys = w.keys[:mark]) once they are written. Maps nest: an inner
// map's keys go after the outer's and are given back first, so the outer's stay put.
func sortedKeys[V any](w *keyWriter, m map[string]V) (keys []string, mark int) {
	mark = len(w.keys)
	for k := range m {
		w.keys = append(w.keys, k)
	}
	keys = w.keys[mark:]
	slices.Sort(keys)
	return keys, mark
}

// value writes a value decoded from JSON (or built like one): the types
// ast.InterfaceToValue takes from the enrichment and the request body.
func (w *keyWriter) value(v any) {
	switch v := v.(type) {
	case nil:
		w.b = append(w.b, 'z')
	case bool:
		w.boolean(v)
	case string:
		w.str(v)
	case json.Number:
		w.b = append(binary.AppendUvarint(append(w.b, 'n'), uint64(len(v))), v...)
	case float64:
		w.b = binary.BigEndian.AppendUint64(append(w.b, 'F'), math.Float64bits(v))
	case int:
		w.num('i', int64(v))
	case int64:
		w.num('i', v)
	case []string:
		w.b = append(w.b, 'A')
		w.strings(v)
	case []any:
		w.b = append(w.b, 'a')
		w.count(len(v))
		for _, e := range v {
			w.value(e)
		}
	case map[string]any:
		w.b = append(w.b, 'o')
		writeMap(w, v, (*keyWriter).value)
	case map[string]string:
		w.b = append(w.b, 'm')
		w.stringMap(v)
	default:
		w.bad = true
	}
}
