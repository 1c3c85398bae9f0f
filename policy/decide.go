package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/open-policy-agent/opa/v1/rego"
)

// Filters the policy can put on a response.
const (
	FilterNone   = ""
	FilterImages = "images"
	FilterImage  = "image"
	// FilterMembers keeps only the caller's own entry of a member list.
	FilterMembers = "members"
	// FilterTasks keeps only the caller's own tasks.
	FilterTasks = "tasks"
	// FilterTask answers 404 for a task of another tenant.
	FilterTask = "task"
	// FilterResults filters a v1 list page ({"count", "results"}) through visible_ids and
	// lowers count by what it removed (gcore dialect).
	FilterResults = "results"
)

// Decision is the policy's answer for one request (docs/policy-input.md).
type Decision struct {
	Allow   bool     `json:"allow"`
	Status  int      `json:"status"`
	Code    string   `json:"code"`
	Reasons []string `json:"reasons"`
	Hide    bool     `json:"hide"`
	Filter  string   `json:"filter"`
}

// ErrEvaluation marks a failure to evaluate the policy; the request is denied.
var ErrEvaluation = errors.New("policy evaluation failed")

var errNoPolicy = fmt.Errorf("%w: no policy loaded yet", ErrEvaluation)

// Decide evaluates data.imagegate.decision. A result that is missing or not of the
// contract's shape is an error: the caller denies.
func (e *Engine) Decide(ctx context.Context, in *Input) (Decision, string, error) {
	p := e.current.Load()
	if p == nil {
		return Decision{}, "", errNoPolicy
	}
	var key memoKey
	memoize := false
	if p.memo != nil {
		if key, memoize = inputKey(in, nil); memoize {
			if d, ok := p.memo.decision(key); ok {
				return d, p.revision, nil
			}
		}
	}
	v, err := in.Value(nil)
	if err != nil {
		return Decision{}, p.revision, fmt.Errorf("%w: build input: %v", ErrEvaluation, err)
	}
	rs, err := p.decision.Eval(ctx, rego.EvalParsedInput(v))
	if err != nil {
		return Decision{}, p.revision, fmt.Errorf("%w: %v", ErrEvaluation, err)
	}
	d, err := parseDecision(rs)
	if err != nil {
		return Decision{}, p.revision, fmt.Errorf("%w: %v", ErrEvaluation, err)
	}
	if memoize {
		p.memo.putDecision(key, d)
	}
	return d, p.revision, nil
}

func parseDecision(rs rego.ResultSet) (Decision, error) {
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return Decision{}, errors.New("decision is undefined")
	}
	obj, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return Decision{}, fmt.Errorf("decision is %T, want an object", rs[0].Expressions[0].Value)
	}
	var d Decision
	allow, ok := obj["allow"].(bool)
	if !ok {
		return Decision{}, errors.New("decision.allow is not a boolean")
	}
	d.Allow = allow
	switch s := obj["status"].(type) {
	case nil:
	case json.Number:
		n, err := s.Int64()
		if err != nil || n < 100 || n > 599 {
			return Decision{}, fmt.Errorf("decision.status %v is not an HTTP status", s)
		}
		d.Status = int(n)
	default:
		return Decision{}, fmt.Errorf("decision.status is %T, want a number", s)
	}
	d.Code, _ = obj["code"].(string)
	d.Hide, _ = obj["hide"].(bool)
	d.Filter, _ = obj["filter"].(string)
	switch rs := obj["reasons"].(type) {
	case nil:
	case []any:
		for _, r := range rs {
			if s, ok := r.(string); ok {
				d.Reasons = append(d.Reasons, s)
			}
		}
	default:
		return Decision{}, fmt.Errorf("decision.reasons is %T, want an array", rs)
	}
	switch d.Filter {
	case FilterNone, FilterImages, FilterImage, FilterMembers, FilterTasks, FilterTask, FilterResults:
	default:
		return Decision{}, fmt.Errorf("decision.filter %q is unknown", d.Filter)
	}
	d.normalize()
	return d, nil
}

// normalize fills the status and code a denial leaves out, so that every denial answers
// with a definite status: 403 by default, 404 when the policy hides the resource.
func (d *Decision) normalize() {
	if d.Allow {
		d.Status, d.Code, d.Hide = 0, "", false
		return
	}
	if d.Hide {
		d.Status = http.StatusNotFound
		if d.Code == "" || d.Code == "forbidden" {
			d.Code = "not_found"
		}
	}
	if d.Status == 0 || d.Status < 400 {
		d.Status = http.StatusForbidden
	}
	if d.Code == "" {
		switch d.Status {
		case http.StatusBadRequest:
			d.Code = "bad_request"
		case http.StatusNotFound:
			d.Code = "not_found"
		case http.StatusConflict:
			d.Code = "conflict"
		default:
			d.Code = "forbidden"
		}
	}
}

// VisibleIDs evaluates data.imagegate.visible_ids once for a whole list page and returns
// the ids the caller may see. The map may be shared with other callers: read it only.
func (e *Engine) VisibleIDs(ctx context.Context, in *Input, items []Item) (map[string]bool, error) {
	p := e.current.Load()
	if p == nil {
		return nil, errNoPolicy
	}
	if items == nil {
		items = []Item{}
	}
	var key memoKey
	memoize := false
	if p.memo != nil && len(items) <= memoPageItems {
		if key, memoize = inputKey(in, items); memoize {
			if ids, ok := p.memo.page(key); ok {
				return ids, nil
			}
		}
	}
	v, err := in.Value(items)
	if err != nil {
		return nil, fmt.Errorf("%w: build input: %v", ErrEvaluation, err)
	}
	rs, err := p.visible.Eval(ctx, rego.EvalParsedInput(v))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEvaluation, err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return nil, fmt.Errorf("%w: visible_ids is undefined", ErrEvaluation)
	}
	ids, ok := rs[0].Expressions[0].Value.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: visible_ids is %T, want a set or array", ErrEvaluation, rs[0].Expressions[0].Value)
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		s, ok := id.(string)
		if !ok {
			return nil, fmt.Errorf("%w: visible_ids holds a %T", ErrEvaluation, id)
		}
		out[s] = true
	}
	if memoize {
		p.memo.putPage(key, out)
	}
	return out, nil
}
