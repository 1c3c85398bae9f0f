package authn

import "time"

// Principal is who is calling, from a verified token. It is what the policy
// sees as input.principal.
//
// A Principal returned by the [Authenticator] may be shared with other
// requests presenting the same token (it comes from the verified-token
// cache), so callers must treat it, including Roles and Claims, as read-only.
type Principal struct {
	// User identifies the caller (the configured user claim, "sub" by default).
	User string `json:"user"`
	// Tenant is the project/tenant the token is scoped to.
	Tenant string `json:"tenant"`
	// Roles are the caller's roles; never nil, possibly empty.
	Roles []string `json:"roles"`
	// Reseller is the optional reseller id.
	Reseller string `json:"reseller,omitempty"`
	// Client is the optional client (customer account) id.
	Client string `json:"client,omitempty"`
	// Issuer is the configured issuer that verified the token.
	Issuer string `json:"issuer"`
	// Claims are all of the token's (verified) claims. Numbers are
	// json.Number so that large ids keep their precision.
	Claims map[string]any `json:"claims"`
	// ExpiresAt is the token's exp.
	ExpiresAt time.Time `json:"-"`
}
