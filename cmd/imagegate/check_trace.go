package main

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/lineage"

	"github.com/imagegate/imagegate/policy"
)

// firedRule is one rule of the policy that evaluated true while deciding: where it is,
// what it defines and, for the rules that produce a value, the value it produced.
type firedRule struct {
	// Location is file:line of the rule (of the else branch that applied, if any).
	Location string `json:"location"`
	// Rule is the rule's full path, e.g. data.imagegate.roles.reasons.
	Rule string `json:"rule"`
	// Value is what the rule produced: the element a "contains" rule added, the value of
	// a complete rule; omitted for function calls and long values.
	Value any `json:"value,omitempty"`
	// Reason is set on the rules whose value is one of the decision's reasons.
	Reason bool `json:"reason,omitempty"`
}

// maxRuleValue bounds the printed value of a fired rule; longer ones are left out.
const maxRuleValue = 160

// decisionTrace is what the traced evaluation gave.
type decisionTrace struct {
	rules       []firedRule
	explanation []string
}

// traceDecision evaluates the decision query once more with OPA's tracer, on the same
// policy set and input the engine decided with, and returns the rules that evaluated
// true and, when explain is set, the trace (full, fails or notes) as OPA prints it.
// The engine itself never traces: this runs in `imagegate check` only.
func traceDecision(ctx context.Context, set policy.Set, input ast.Value, explain string) (decisionTrace, error) {
	var out decisionTrace
	compiler := ast.NewCompiler()
	if compiler.Compile(set.Modules); compiler.Failed() {
		return out, fmt.Errorf("policy %s: compile: %w", set.Name, compiler.Errors)
	}
	data := set.Data
	if data == nil {
		data = map[string]any{}
	}
	buf := topdown.NewBufferTracer()
	rs, err := rego.New(
		rego.Query(policy.DecisionQuery),
		rego.Compiler(compiler),
		rego.Store(inmem.NewFromObject(data)),
		rego.ParsedInput(input),
		rego.QueryTracer(buf),
	).Eval(ctx)
	if err != nil {
		return out, fmt.Errorf("policy %s: traced evaluation: %w", set.Name, err)
	}
	reasons := map[string]bool{}
	if len(rs) == 1 && len(rs[0].Expressions) == 1 {
		if obj, ok := rs[0].Expressions[0].Value.(map[string]any); ok {
			if rr, ok := obj["reasons"].([]any); ok {
				for _, r := range rr {
					if s, ok := r.(string); ok {
						reasons[s] = true
					}
				}
			}
		}
	}
	out.rules = firedRules(*buf, reasons)

	var trace []*topdown.Event
	switch explain {
	case "":
		return out, nil
	case "full":
		trace = *buf
	case "fails":
		trace = lineage.Fails(*buf)
	case "notes":
		trace = lineage.Notes(*buf)
	}
	var b bytes.Buffer
	topdown.PrettyTraceWithLocation(&b, trace)
	out.explanation = strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(out.explanation) == 1 && out.explanation[0] == "" {
		out.explanation = nil
	}
	return out, nil
}

// firedRules lists the rules whose body succeeded (trace Exit events on rules), once
// each with every distinct value, ordered by file and line. Defaults and constants are
// left out: they hold whatever the input and explain nothing.
func firedRules(events []*topdown.Event, reasons map[string]bool) []firedRule {
	type key struct{ loc, value string }
	seen := map[key]bool{}
	var out []firedRule
	for _, ev := range events {
		if ev.Op != topdown.ExitOp {
			continue
		}
		rule, ok := ev.Node.(*ast.Rule)
		if !ok || rule.Default || rule.Location == nil || isConstant(rule) {
			continue
		}
		fr := firedRule{
			Location: fmt.Sprintf("%s:%d", rule.Location.File, rule.Location.Row),
			Rule:     rulePath(rule),
		}
		valueText := ""
		if len(rule.Head.Args) == 0 {
			term := rule.Head.Value
			if rule.Head.RuleKind() == ast.MultiValue || term == nil {
				term = rule.Head.Key
			}
			if v, ok := plug(term, ev.Locals); ok {
				valueText = v.String()
				if s, isString := v.Value.(ast.String); isString && reasons[string(s)] {
					fr.Reason = true
				}
				if len(valueText) <= maxRuleValue {
					if j, err := ast.JSON(v.Value); err == nil {
						fr.Value = j
					}
				}
			}
		}
		k := key{fr.Location, valueText}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, fr)
	}
	sort.SliceStable(out, func(i, j int) bool {
		fi, li := splitLocation(out[i].Location)
		fj, lj := splitLocation(out[j].Location)
		if fi != fj {
			return fi < fj
		}
		return li < lj
	})
	return out
}

// isConstant says whether a rule is a constant (its body is just true): a table of the
// policy, not a condition that held.
func isConstant(rule *ast.Rule) bool {
	if len(rule.Body) != 1 {
		return false
	}
	t, ok := rule.Body[0].Terms.(*ast.Term)
	return ok && t.Value.Compare(ast.Boolean(true)) == 0
}

// rulePath is the full path of a rule, package included: data.imagegate.roles.reasons.
func rulePath(rule *ast.Rule) string {
	if rule.Module != nil && rule.Module.Package != nil {
		return rule.Module.Package.Path.Extend(rule.Head.Ref().GroundPrefix()).String()
	}
	return rule.Head.Ref().String()
}

// plug replaces the variables of term with their values at the Exit event; ok is false
// when one is not bound (the value is then unknown to the trace).
func plug(term *ast.Term, locals *ast.ValueMap) (*ast.Term, bool) {
	if term == nil {
		return nil, false
	}
	complete := true
	out, err := ast.TransformVars(term.Copy(), func(v ast.Var) (ast.Value, error) {
		if locals != nil {
			if val := locals.Get(v); val != nil {
				return val, nil
			}
		}
		complete = false
		return v, nil
	})
	if err != nil || !complete {
		return nil, false
	}
	var t *ast.Term
	switch x := out.(type) {
	case *ast.Term:
		t = x
	case ast.Value:
		// A term that is just a variable transforms into its value.
		t = ast.NewTerm(x)
	default:
		return nil, false
	}
	if !t.IsGround() {
		return nil, false
	}
	return t, true
}

// splitLocation splits file:line for sorting.
func splitLocation(loc string) (string, int) {
	i := strings.LastIndexByte(loc, ':')
	if i < 0 {
		return loc, 0
	}
	n := 0
	fmt.Sscan(loc[i+1:], &n)
	return loc[:i], n
}

// valueJSON turns the policy input into plain JSON values for printing.
func valueJSON(v ast.Value) (any, error) { return ast.JSON(v) }
