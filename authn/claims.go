package authn

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode"

	"github.com/golang-jwt/jwt/v5"
)

// claimPath is a configured claim name: a top-level claim, or a dotted path
// into nested objects.
type claimPath struct {
	raw   string
	parts []string
}

func newClaimPath(p string) claimPath {
	return claimPath{raw: p, parts: strings.Split(p, ".")}
}

// lookup finds the claim. A top-level claim named exactly p.raw wins, so that
// namespaced claims such as "https://idp.example/roles" (which contain dots)
// work; otherwise p.raw is walked as a path through nested objects.
func (p claimPath) lookup(claims map[string]any) (any, bool) {
	if v, ok := claims[p.raw]; ok {
		return v, true
	}
	if len(p.parts) < 2 {
		return nil, false
	}
	var cur any = claims
	for _, part := range p.parts {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// claimMapper builds a Principal from verified claims, per ClaimsConfig.
type claimMapper struct {
	user, tenant, roles, reseller, client claimPath // reseller/client .raw == "": not mapped
	required                              []claimPath
}

func newClaimMapper(cc ClaimsConfig, required []string) claimMapper {
	m := claimMapper{
		user:   newClaimPath(cc.User),
		tenant: newClaimPath(cc.Tenant),
		roles:  newClaimPath(cc.Roles),
	}
	if cc.Reseller != "" {
		m.reseller = newClaimPath(cc.Reseller)
	}
	if cc.Client != "" {
		m.client = newClaimPath(cc.Client)
	}
	for _, r := range required {
		m.required = append(m.required, newClaimPath(r))
	}
	return m
}

// principal maps verified claims to a Principal. The user and tenant claims
// are required; roles, reseller and client are optional.
func (m claimMapper) principal(issuer string, claims jwt.MapClaims) (*Principal, *Error) {
	for _, r := range m.required {
		if v, ok := r.lookup(claims); !ok || v == nil {
			return nil, newError(CodeMissingClaim, nil, "required claim %q is missing", r.raw)
		}
	}
	user, err := requiredString(claims, m.user)
	if err != nil {
		return nil, err
	}
	tenant, err := requiredString(claims, m.tenant)
	if err != nil {
		return nil, err
	}
	roles, err := rolesOf(claims, m.roles)
	if err != nil {
		return nil, err
	}
	reseller, err := optionalString(claims, m.reseller)
	if err != nil {
		return nil, err
	}
	client, err := optionalString(claims, m.client)
	if err != nil {
		return nil, err
	}
	exp, _ := claims.GetExpirationTime() // present and valid: the parser required it
	p := &Principal{
		User:     user,
		Tenant:   tenant,
		Roles:    roles,
		Reseller: reseller,
		Client:   client,
		Issuer:   issuer,
		Claims:   map[string]any(claims),
	}
	if exp != nil {
		p.ExpiresAt = exp.Time
	}
	return p, nil
}

// optionalString returns a string (or number) claim, "" when it is not mapped, absent
// or null.
func optionalString(claims map[string]any, p claimPath) (string, *Error) {
	if p.raw == "" {
		return "", nil
	}
	v, ok := p.lookup(claims)
	if !ok || v == nil {
		return "", nil
	}
	s, ok := scalarString(v)
	if !ok {
		return "", newError(CodeInvalidClaim, nil, "claim %q must be a string", p.raw)
	}
	return s, nil
}

// requiredString returns a non-empty string (or number) claim.
func requiredString(claims map[string]any, p claimPath) (string, *Error) {
	v, ok := p.lookup(claims)
	if !ok || v == nil {
		return "", newError(CodeMissingClaim, nil, "required claim %q is missing", p.raw)
	}
	s, ok := scalarString(v)
	if !ok {
		return "", newError(CodeInvalidClaim, nil, "claim %q must be a string", p.raw)
	}
	if s == "" {
		return "", newError(CodeMissingClaim, nil, "required claim %q is empty", p.raw)
	}
	return s, nil
}

// scalarString accepts strings and numbers (numeric project ids exist); the
// parser decodes numbers as json.Number, so they keep their exact digits.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	default:
		return "", false
	}
}

// rolesOf reads the roles claim: an array of strings, or one string of roles
// separated by commas and/or white space. Absent or null means no roles. The
// result is never nil, so that it is [] rather than null in JSON.
func rolesOf(claims map[string]any, p claimPath) ([]string, *Error) {
	v, ok := p.lookup(claims)
	if !ok || v == nil {
		return []string{}, nil
	}
	switch x := v.(type) {
	case string:
		return strings.FieldsFunc(x, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }), nil
	case []any:
		roles := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, newError(CodeInvalidClaim, nil, "claim %q must be an array of strings", p.raw)
			}
			if s = strings.TrimSpace(s); s != "" {
				roles = append(roles, s)
			}
		}
		return roles, nil
	default:
		return nil, newError(CodeInvalidClaim, nil, "claim %q must be a string or an array of strings", p.raw)
	}
}
