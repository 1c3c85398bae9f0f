package proxy

import (
	"encoding/json"
	"errors"
)

// Checking a JSON answer while splitting it. json.Valid followed by the scanner of
// gcore.go read every byte of a list page twice, and json.Valid was a quarter of the CPU
// of a filtered list; validObjectFields checks the page in the pass that splits it. It
// accepts exactly what json.Valid accepts (FuzzReadImagePage and FuzzValidJSON hold it
// to that): the grammar of RFC 8259, any byte of 0x80 and above inside strings, and
// nesting up to encoding/json's depth of 10,000.

// maxJSONNesting is encoding/json's limit on nested arrays and objects.
const maxJSONNesting = 10000

var errJSONTooDeep = errors.New("JSON nested too deeply")

// validObjectFields is objectFields for raw not yet known to be valid JSON: the whole of
// raw is checked to be one JSON object (whitespace around it allowed) in the same pass
// that finds its members, and f is called only once all of raw is known to be valid.
//
// When arrayKey is not "", the elements of the value of the member named arrayKey are
// found in that pass too and returned: the list page's items, which would otherwise be
// scanned once more. As for f, the last member of that name counts; the elements are nil
// when there is no such member or its value is not an array (empty, not nil, for []).
func validObjectFields(raw []byte, arrayKey string, f func(key []byte, start, end int)) ([]json.RawMessage, error) {
	type member struct{ keyStart, keyEnd, start, end int }
	var (
		members  []member
		elements []json.RawMessage
	)
	collect := func(start, end int) { elements = append(elements, raw[start:end]) }
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, errNotJSON
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		i++
	} else {
		for {
			if i >= len(raw) || raw[i] != '"' {
				return nil, errNotJSON
			}
			keyEnd, err := validString(raw, i)
			if err != nil {
				return nil, err
			}
			j := skipSpace(raw, keyEnd)
			if j >= len(raw) || raw[j] != ':' {
				return nil, errNotJSON
			}
			start := skipSpace(raw, j+1)
			var end int
			if arrayKey != "" && isKey(raw[i:keyEnd], arrayKey) {
				elements = nil
				if start < len(raw) && raw[start] == '[' {
					elements = make([]json.RawMessage, 0, 32)
					end, err = validContainer(raw, start, 2, collect)
				} else {
					end, err = validValue(raw, start, 1)
				}
			} else {
				end, err = validValue(raw, start, 1)
			}
			if err != nil {
				return nil, err
			}
			members = append(members, member{i, keyEnd, start, end})
			i = skipSpace(raw, end)
			if i < len(raw) && raw[i] == ',' {
				i = skipSpace(raw, i+1)
				continue
			}
			if i < len(raw) && raw[i] == '}' {
				i++
				break
			}
			return nil, errNotJSON
		}
	}
	if skipSpace(raw, i) != len(raw) {
		return nil, errNotJSON
	}
	for _, m := range members {
		key, err := unquoteBytes(raw[m.keyStart:m.keyEnd])
		if err != nil {
			return nil, err
		}
		f(key, m.start, m.end)
	}
	return elements, nil
}

// isKey reports whether the raw JSON string quoted (valid) decodes to key.
func isKey(quoted []byte, key string) bool {
	k, err := unquoteBytes(quoted)
	return err == nil && string(k) == key
}

// validValue checks the JSON value starting at b[i], inside depth containers, and
// returns the index just after it.
func validValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, errNotJSON
	}
	switch c := b[i]; {
	case c == '"':
		return validString(b, i)
	case c == '{' || c == '[':
		return validContainer(b, i, depth+1, nil)
	case c == '-' || (c >= '0' && c <= '9'):
		return validNumber(b, i)
	case c == 't':
		return validLiteral(b, i, "true")
	case c == 'f':
		return validLiteral(b, i, "false")
	case c == 'n':
		return validLiteral(b, i, "null")
	}
	return 0, errNotJSON
}

// validContainer checks the object or array at b[i], the depth-th container; for an
// array, element (when not nil) is called with the span of each element.
func validContainer(b []byte, i, depth int, element func(start, end int)) (int, error) {
	if depth > maxJSONNesting {
		return 0, errJSONTooDeep
	}
	object := b[i] == '{'
	closing := byte(']')
	if object {
		closing = '}'
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == closing {
		return i + 1, nil
	}
	for {
		var err error
		if object {
			if i >= len(b) || b[i] != '"' {
				return 0, errNotJSON
			}
			if i, err = validString(b, i); err != nil {
				return 0, err
			}
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != ':' {
				return 0, errNotJSON
			}
			i = skipSpace(b, i+1)
		}
		start := i
		if i, err = validValue(b, i, depth); err != nil {
			return 0, err
		}
		if element != nil && !object {
			element(start, i)
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, errNotJSON
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case closing:
			return i + 1, nil
		default:
			return 0, errNotJSON
		}
	}
}

func validString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, nil
		case c < 0x20:
			return 0, errNotJSON
		case c == '\\':
			j++
			if j >= len(b) {
				return 0, errNotJSON
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(b) {
					return 0, errNotJSON
				}
				for _, h := range b[j+1 : j+5] {
					if !isHex(h) {
						return 0, errNotJSON
					}
				}
				j += 4
			default:
				return 0, errNotJSON
			}
		}
	}
	return 0, errNotJSON
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// validNumber checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at b[i].
func validNumber(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return 0, errNotJSON
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return 0, errNotJSON
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return 0, errNotJSON
		}
		i = j
	}
	return i, nil
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func validLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, errNotJSON
	}
	return i + len(lit), nil
}
