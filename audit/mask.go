package audit

import (
	"encoding/json"
	"fmt"
	"strings"
)

// parseMasks reads JSON pointers (RFC 6901) naming fields to remove from events.
func parseMasks(pointers []string) ([][]string, error) {
	out := make([][]string, 0, len(pointers))
	for _, p := range pointers {
		if !strings.HasPrefix(p, "/") || p == "/" {
			return nil, fmt.Errorf("audit mask %q is not a JSON pointer to a field", p)
		}
		toks := strings.Split(p[1:], "/")
		for i, t := range toks {
			toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
		}
		switch toks[0] {
		case "decision_id", "timestamp", "path":
			return nil, fmt.Errorf("audit mask %q would remove a field every event needs", p)
		}
		out = append(out, toks)
	}
	return out, nil
}

// encode turns an event into JSON, without the masked fields; those removed are listed
// in "erased", as OPA's decision logs list theirs.
func (l *Logger) encode(e *Event) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil || len(l.mask) == 0 {
		return b, err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	var erased []string
	for _, toks := range l.mask {
		if removePointer(doc, toks) {
			erased = append(erased, "/"+strings.Join(toks, "/"))
		}
	}
	if len(erased) == 0 {
		return b, nil
	}
	doc["erased"] = erased
	return json.Marshal(doc)
}

func removePointer(doc map[string]any, toks []string) bool {
	cur := doc
	for _, t := range toks[:len(toks)-1] {
		next, ok := cur[t].(map[string]any)
		if !ok {
			return false
		}
		cur = next
	}
	last := toks[len(toks)-1]
	if _, ok := cur[last]; !ok {
		return false
	}
	delete(cur, last)
	return true
}
