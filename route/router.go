package route

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// DefaultMaxParamLen is the longest path parameter value accepted, in bytes, when a
// ParamRule does not say otherwise. Glance stores ids and tags in 255-byte columns.
const DefaultMaxParamLen = 255

// maxPathParams bounds the parameters of one pattern, so Match can collect them in a
// fixed array on the stack.
const maxPathParams = 8

// RouteInfo is one line of a dialect's route table: a method and path pattern and the
// operation they mean. Tables are written as []RouteInfo and given to NewRouter;
// Router.Operations returns them back for documentation and tests.
//
// A pattern is a path whose segments are literals or "{name}" parameters, e.g.
// "/v2/images/{image_id}/members/{member_id}". Literals match the decoded path exactly
// (case-sensitively); a parameter matches one non-empty segment.
type RouteInfo struct {
	// Method is the HTTP method, upper case (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS).
	Method string `json:"method"`
	// Pattern is the path pattern, e.g. "/v2/images/{image_id}".
	Pattern string `json:"pattern"`
	// Name is the stable operation name policies use, e.g. "images.get".
	Name string `json:"name"`
	// Body says what body the operation carries.
	Body Body `json:"body"`
	// Deprecated marks endpoints their API has deprecated; it is passed to the policy.
	Deprecated bool `json:"deprecated,omitempty"`
}

// ParamRule constrains the values of a path parameter. Every parameter is in any case
// non-empty, not "." or "..", valid UTF-8 and free of control characters.
type ParamRule struct {
	// MaxLen is the longest value accepted, in bytes; 0 means DefaultMaxParamLen.
	// A longer value is refused with CodeBadParam.
	MaxLen int
	// OneOf, when not empty, lists the only values that name an existing resource
	// (e.g. the Glance schema names); any other value is CodeNotFound.
	OneOf []string
}

// Router maps a method and canonical path to an Operation of one dialect. It is built
// once by a constructor (NewGlance, NewRouter) and is immutable afterwards, so one Router
// is safe for concurrent use by any number of requests.
type Router struct {
	dialect string
	table   []RouteInfo
	root    *node
}

// node is one segment position of the compiled segment tree.
type node struct {
	lit    string  // the literal this node matches (static children only)
	static []*node // literal children, tried before the parameter child
	param  *node   // the parameter child, if any
	name   string  // parameter name (parameter nodes only)
	leaf   *leaf   // routes ending here, nil for inner positions
}

// leaf holds the routes of one pattern.
type leaf struct {
	params    []paramSlot // the pattern's parameters, in path order
	endpoints []endpoint
	allow     []string // sorted methods of endpoints
}

type paramSlot struct {
	name string
	rule ParamRule
}

type endpoint struct {
	method string
	info   RouteInfo
}

// NewRouter compiles a dialect's route table. rules constrains path parameters by name;
// a parameter without a rule gets the default one. The table is checked thoroughly —
// malformed patterns, unknown methods or body kinds, duplicate routes, a position whose
// parameter has two names, rules for parameters no pattern has — so that a mistake in a
// table fails at construction, not on some request.
func NewRouter(dialect string, table []RouteInfo, rules map[string]ParamRule) (*Router, error) {
	if dialect == "" {
		return nil, errors.New("route: empty dialect")
	}
	r := &Router{dialect: dialect, table: slices.Clone(table), root: &node{}}
	used := make(map[string]bool)
	for _, ri := range table {
		if err := r.add(ri, rules, used); err != nil {
			return nil, fmt.Errorf("route: %s %s: %w", ri.Method, ri.Pattern, err)
		}
	}
	for name := range rules {
		if !used[name] {
			return nil, fmt.Errorf("route: rule for parameter %q, which no pattern has", name)
		}
	}
	return r, nil
}

// add inserts one route into the tree.
func (r *Router) add(ri RouteInfo, rules map[string]ParamRule, used map[string]bool) error {
	if !knownMethod(ri.Method) {
		return errors.New("unknown method")
	}
	if ri.Name == "" {
		return errors.New("empty operation name")
	}
	if !ri.Body.valid() {
		return errors.New("unknown body kind")
	}
	segs, err := parsePattern(ri.Pattern)
	if err != nil {
		return err
	}
	n := r.root
	var params []paramSlot
	for _, s := range segs {
		name, isParam := strings.CutPrefix(s, "{")
		if !isParam {
			n = n.staticChild(s)
			continue
		}
		name = strings.TrimSuffix(name, "}")
		if n.param == nil {
			n.param = &node{name: name}
		} else if n.param.name != name {
			// One position, one name: otherwise a request would get its parameter under a
			// name depending on which route it ends up at.
			return fmt.Errorf("parameter {%s} where another pattern has {%s}", name, n.param.name)
		}
		n = n.param
		rule := rules[name]
		rule.OneOf = slices.Clone(rule.OneOf)
		if rule.MaxLen <= 0 {
			rule.MaxLen = DefaultMaxParamLen
		}
		params = append(params, paramSlot{name: name, rule: rule})
		used[name] = true
	}
	if n.leaf == nil {
		n.leaf = &leaf{params: params}
	}
	if slices.ContainsFunc(n.leaf.endpoints, func(e endpoint) bool { return e.method == ri.Method }) {
		return errors.New("duplicate route")
	}
	n.leaf.endpoints = append(n.leaf.endpoints, endpoint{method: ri.Method, info: ri})
	n.leaf.allow = append(n.leaf.allow, ri.Method)
	slices.Sort(n.leaf.allow)
	return nil
}

// staticChild returns the literal child lit of n, creating it if needed.
func (n *node) staticChild(lit string) *node {
	for _, c := range n.static {
		if c.lit == lit {
			return c
		}
	}
	c := &node{lit: lit}
	n.static = append(n.static, c)
	return c
}

// parsePattern splits a pattern into segments and checks them: literals must be canonical
// decoded segments (they are compared with decoded paths), parameters "{name}" with a
// lower-case identifier, unique within the pattern.
func parsePattern(p string) ([]string, error) {
	if p == "/" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, errors.New("pattern does not start with /")
	}
	segs := strings.Split(p[1:], "/")
	var names []string
	for _, s := range segs {
		if name, ok := strings.CutPrefix(s, "{"); ok {
			name, ok = strings.CutSuffix(name, "}")
			if !ok || !isParamName(name) {
				return nil, fmt.Errorf("bad parameter segment %q", s)
			}
			if slices.Contains(names, name) {
				return nil, fmt.Errorf("parameter {%s} twice", name)
			}
			names = append(names, name)
			continue
		}
		// checkPath refuses ".", "..", braces and the rest; "%" would be an escape there
		// but can never appear in a decoded path.
		if s == "" || strings.Contains(s, "%") {
			return nil, fmt.Errorf("bad literal segment %q", s)
		}
		if _, err := checkPath("/" + s); err != nil {
			return nil, fmt.Errorf("bad literal segment %q", s)
		}
	}
	if len(names) > maxPathParams {
		return nil, fmt.Errorf("more than %d parameters", maxPathParams)
	}
	return segs, nil
}

// isParamName reports whether s is a lower-case identifier such as "image_id".
func isParamName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Dialect returns the dialect of the router's operations, e.g. DialectGlance.
func (r *Router) Dialect() string {
	return r.dialect
}

// Operations returns every route of the table, in table order, for documentation and
// tests. The slice is a copy.
func (r *Router) Operations() []RouteInfo {
	return slices.Clone(r.table)
}

// Match returns the operation for a method and a path as returned by CanonicalPath.
// The path is the decoded one, so parameters come out percent-decoded. Match does not
// re-check canonical form, but on any input it neither panics nor takes an empty, "." or
// ".." segment as a parameter value.
//
// Errors, all *Error: CodeNotFound when no route has this path (or a parameter's value is
// not one of its OneOf), CodeMethodNotAllowed with Allow set when the path is known but
// not for this method, CodeBadParam when a parameter value breaks its rule.
func (r *Router) Match(method, path string) (Operation, error) {
	var vals [maxPathParams]string
	n := r.find(path, &vals)
	if n == nil {
		return Operation{}, newError(CodeNotFound, "no such route")
	}
	lf := n.leaf
	for i, s := range lf.params {
		if len(s.rule.OneOf) > 0 && !slices.Contains(s.rule.OneOf, vals[i]) {
			return Operation{}, newError(CodeNotFound, "no such route")
		}
	}
	var ep *endpoint
	for i := range lf.endpoints {
		if lf.endpoints[i].method == method {
			ep = &lf.endpoints[i]
			break
		}
	}
	if ep == nil {
		e := newError(CodeMethodNotAllowed, "method not allowed for this path")
		e.Allow = slices.Clone(lf.allow)
		return Operation{}, e
	}
	for i, s := range lf.params {
		if msg := checkParam(vals[i], s.rule); msg != "" {
			return Operation{}, newError(CodeBadParam, "parameter "+s.name+": "+msg)
		}
	}
	params := make(map[string]string, len(lf.params))
	for i, s := range lf.params {
		params[s.name] = vals[i]
	}
	return Operation{
		Dialect:    r.dialect,
		Name:       ep.info.Name,
		Params:     params,
		Deprecated: ep.info.Deprecated,
		Body:       ep.info.Body,
	}, nil
}

// allowed returns the methods the path accepts, or nil if no route has it.
func (r *Router) allowed(path string) []string {
	var vals [maxPathParams]string
	n := r.find(path, &vals)
	if n == nil {
		return nil
	}
	for i, s := range n.leaf.params {
		if len(s.rule.OneOf) > 0 && !slices.Contains(s.rule.OneOf, vals[i]) {
			return nil
		}
	}
	return slices.Clone(n.leaf.allow)
}

// find returns the node holding the routes for path, with the parameter values in vals,
// or nil.
func (r *Router) find(path string, vals *[maxPathParams]string) *node {
	if path == "/" {
		if r.root.leaf != nil {
			return r.root
		}
		return nil
	}
	if !strings.HasPrefix(path, "/") {
		return nil
	}
	return r.root.find(path[1:], vals, 0)
}

// find matches the remaining segments rest below n. Literal children are tried first; if
// the literal branch leads to no route at all, the parameter child gets its chance, so a
// literal never hides a route that only the parameter would reach. The method plays no
// part: a path a literal route owns is 405 for other methods, never reinterpreted as a
// parameter value (".../upload" is not an image named "upload").
func (n *node) find(rest string, vals *[maxPathParams]string, nv int) *node {
	seg, tail, more := strings.Cut(rest, "/")
	for _, c := range n.static {
		if c.lit != seg {
			continue
		}
		if !more {
			if c.leaf != nil {
				return c
			}
		} else if m := c.find(tail, vals, nv); m != nil {
			return m
		}
		break
	}
	if n.param == nil || seg == "" || nv == len(vals) {
		return nil
	}
	vals[nv] = seg
	if !more {
		if n.param.leaf != nil {
			return n.param
		}
		return nil
	}
	return n.param.find(tail, vals, nv+1)
}

// checkParam explains why v breaks rule (and the rules every parameter follows), or
// returns "".
func checkParam(v string, rule ParamRule) string {
	switch {
	case v == "":
		return "empty"
	case len(v) > rule.MaxLen:
		return "too long"
	case v == "." || v == "..":
		return "dot segment"
	}
	for i := 0; i < len(v); i++ {
		if isControl(v[i]) {
			return "control character"
		}
	}
	return checkText(v)
}
