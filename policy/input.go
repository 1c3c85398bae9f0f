package policy

import (
	"net/url"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/route"
)

// InputVersion is the version of the input contract in docs/policy-input.md.
const InputVersion = 1

// PatchOp is one operation of a JSON Patch document, its path split into tokens.
type PatchOp struct {
	Op      string   `json:"op"`
	Path    string   `json:"path"`
	Pointer []string `json:"pointer"`
	Value   any      `json:"value,omitempty"`
	// HasValue tells "value": null apart from no value at all.
	HasValue bool `json:"-"`
}

// Membership is the caller's membership of an image.
type Membership struct {
	MemberID string `json:"member_id"`
	Status   string `json:"status"`
}

// Item is one entry of a list page, as the list filter sees it.
type Item struct {
	ID           string `json:"id"`
	Owner        string `json:"owner"`
	Visibility   string `json:"visibility"`
	MemberStatus string `json:"member_status,omitempty"`
	// Region is the item's region id (gcore dialect); "" leaves it out of the input.
	Region string `json:"region,omitempty"`
}

// Input is everything the policy may look at for one request. It is turned into OPA's
// value type directly, without a JSON round trip, because that conversion is paid on
// every request.
type Input struct {
	Operation route.Operation
	Method    string
	Path      string
	Query     url.Values
	// Body is the parsed JSON body, nil when the operation takes none.
	Body any
	// Patch is the parsed PATCH document of images.update.
	Patch     []PatchOp
	Principal *authn.Principal
	// Image is the upstream's record of params.image_id; nil when there is none.
	Image map[string]any
	// Membership is the caller's membership of Image; nil when none.
	Membership *Membership
	// Reseller holds the reseller limits and shared images that concern the caller, as
	// looked up on the upstream (reseller.source upstream); nil when not looked up.
	Reseller map[string]any
	// Dialect and UpstreamMode describe the deployment; Region is the configured region
	// of a Glance upstream (reseller.region).
	Dialect      string
	UpstreamMode string
	Region       string
}

// Value builds the OPA input document; items are added for the list filter.
func (in *Input) Value(items []Item) (ast.Value, error) {
	params := ast.NewObject()
	for k, v := range in.Operation.Params {
		params.Insert(ast.StringTerm(k), ast.StringTerm(v))
	}
	operation := ast.NewObject(
		ast.Item(ast.StringTerm("dialect"), ast.StringTerm(in.Operation.Dialect)),
		ast.Item(ast.StringTerm("name"), ast.StringTerm(in.Operation.Name)),
		ast.Item(ast.StringTerm("params"), ast.NewTerm(params)),
		ast.Item(ast.StringTerm("deprecated"), ast.BooleanTerm(in.Operation.Deprecated)),
	)

	query := ast.NewObject()
	for k, vs := range in.Query {
		arr := make([]*ast.Term, len(vs))
		for i, v := range vs {
			arr[i] = ast.StringTerm(v)
		}
		query.Insert(ast.StringTerm(k), ast.ArrayTerm(arr...))
	}
	body, err := ast.InterfaceToValue(in.Body)
	if err != nil {
		return nil, err
	}
	patch := ast.NullTerm()
	if in.Patch != nil {
		ops := make([]*ast.Term, len(in.Patch))
		for i, op := range in.Patch {
			ptr := make([]*ast.Term, len(op.Pointer))
			for j, tok := range op.Pointer {
				ptr[j] = ast.StringTerm(tok)
			}
			o := ast.NewObject(
				ast.Item(ast.StringTerm("op"), ast.StringTerm(op.Op)),
				ast.Item(ast.StringTerm("path"), ast.StringTerm(op.Path)),
				ast.Item(ast.StringTerm("pointer"), ast.ArrayTerm(ptr...)),
			)
			if op.HasValue {
				v, err := ast.InterfaceToValue(op.Value)
				if err != nil {
					return nil, err
				}
				o.Insert(ast.StringTerm("value"), ast.NewTerm(v))
			}
			ops[i] = ast.NewTerm(o)
		}
		patch = ast.ArrayTerm(ops...)
	}
	request := ast.NewObject(
		ast.Item(ast.StringTerm("method"), ast.StringTerm(in.Method)),
		ast.Item(ast.StringTerm("path"), ast.StringTerm(in.Path)),
		ast.Item(ast.StringTerm("query"), ast.NewTerm(query)),
		ast.Item(ast.StringTerm("body"), ast.NewTerm(body)),
		ast.Item(ast.StringTerm("patch"), patch),
	)

	principal := ast.NullTerm()
	if p := in.Principal; p != nil {
		roles := make([]*ast.Term, len(p.Roles))
		for i, r := range p.Roles {
			roles[i] = ast.StringTerm(r)
		}
		claims, err := ast.InterfaceToValue(p.Claims)
		if err != nil {
			return nil, err
		}
		principal = ast.ObjectTerm(
			ast.Item(ast.StringTerm("user"), ast.StringTerm(p.User)),
			ast.Item(ast.StringTerm("tenant"), ast.StringTerm(p.Tenant)),
			ast.Item(ast.StringTerm("roles"), ast.ArrayTerm(roles...)),
			ast.Item(ast.StringTerm("reseller"), ast.StringTerm(p.Reseller)),
			ast.Item(ast.StringTerm("client"), ast.StringTerm(p.Client)),
			ast.Item(ast.StringTerm("issuer"), ast.StringTerm(p.Issuer)),
			ast.Item(ast.StringTerm("claims"), ast.NewTerm(claims)),
		)
	}

	// A missing image is null, not {}: the policy tells "no such image" apart by it.
	var image ast.Value = ast.Null{}
	if in.Image != nil {
		if image, err = ast.InterfaceToValue(in.Image); err != nil {
			return nil, err
		}
	}
	membership := ast.NullTerm()
	if m := in.Membership; m != nil {
		membership = ast.ObjectTerm(
			ast.Item(ast.StringTerm("member_id"), ast.StringTerm(m.MemberID)),
			ast.Item(ast.StringTerm("status"), ast.StringTerm(m.Status)),
		)
	}
	var reseller ast.Value = ast.Null{}
	if in.Reseller != nil {
		if reseller, err = ast.InterfaceToValue(in.Reseller); err != nil {
			return nil, err
		}
	}
	resource := ast.NewObject(
		ast.Item(ast.StringTerm("image"), ast.NewTerm(image)),
		ast.Item(ast.StringTerm("membership"), membership),
		ast.Item(ast.StringTerm("reseller"), ast.NewTerm(reseller)),
	)
	cfg := ast.NewObject(
		ast.Item(ast.StringTerm("dialect"), ast.StringTerm(in.Dialect)),
		ast.Item(ast.StringTerm("upstream_mode"), ast.StringTerm(in.UpstreamMode)),
		ast.Item(ast.StringTerm("region"), ast.StringTerm(in.Region)),
	)

	itemsTerm := ast.NullTerm()
	if items != nil {
		arr := make([]*ast.Term, len(items))
		for i, it := range items {
			ms := ast.NullTerm()
			if it.MemberStatus != "" {
				ms = ast.StringTerm(it.MemberStatus)
			}
			obj := ast.NewObject(
				ast.Item(ast.StringTerm("id"), ast.StringTerm(it.ID)),
				ast.Item(ast.StringTerm("owner"), ast.StringTerm(it.Owner)),
				ast.Item(ast.StringTerm("visibility"), ast.StringTerm(it.Visibility)),
				ast.Item(ast.StringTerm("member_status"), ms),
			)
			if it.Region != "" {
				obj.Insert(ast.StringTerm("region"), ast.StringTerm(it.Region))
			}
			arr[i] = ast.NewTerm(obj)
		}
		itemsTerm = ast.ArrayTerm(arr...)
	}

	return ast.NewObject(
		ast.Item(ast.StringTerm("version"), ast.IntNumberTerm(InputVersion)),
		ast.Item(ast.StringTerm("operation"), ast.NewTerm(operation)),
		ast.Item(ast.StringTerm("request"), ast.NewTerm(request)),
		ast.Item(ast.StringTerm("principal"), principal),
		ast.Item(ast.StringTerm("resource"), ast.NewTerm(resource)),
		ast.Item(ast.StringTerm("config"), ast.NewTerm(cfg)),
		ast.Item(ast.StringTerm("items"), itemsTerm),
	), nil
}
