package proxy

import (
	"net/http"
	"strings"
)

// identityHeaders are header names (lower case, "-" separated) that carry identity to an
// OpenStack service. A client must never be able to set them: the upstream trusts them.
var identityHeaders = []string{
	"x-roles", "x-role", "x-identity-status", "x-service-identity-status",
	"x-tenant", "x-tenant-id", "x-tenant-name",
	"x-project-id", "x-project-name", "x-project-domain-id", "x-project-domain-name",
	"x-user", "x-user-id", "x-user-name", "x-user-domain-id", "x-user-domain-name",
	"x-domain-id", "x-domain-name", "x-is-admin-project", "x-system-scope",
	"openstack-system-scope", "x-service-catalog", "x-auth-token", "x-subject-token",
	"x-storage-token", "x-trust-id", "x-app-cred-id", "x-reseller", "x-reseller-id",
	"x-openstack-request-id",
}

// identityPrefixes catch whole families of identity headers.
var identityPrefixes = []string{
	"x-service-", "x-domain-", "x-project-", "x-user-", "x-tenant-", "x-identity-",
	"x-auth-", "x-trust-", "x-roles-", "x-imagegate-",
}

// forwardingHeaders are client claims about the original request — its client address,
// host, scheme, prefix or path — that frameworks in front of or inside an upstream honour
// (oslo's http_proxy_to_wsgi reads X-Forwarded-Prefix, some servers route on
// X-Original-URL). imagegate trusts no proxy in front of it, so none passes; ReverseProxy
// itself only drops X-Forwarded-For, -Host and -Proto.
var forwardingHeaders = []string{
	"forwarded", "x-real-ip", "x-client-ip", "true-client-ip", "x-cluster-client-ip",
	"x-rewrite-url", "x-http-destinationurl", "x-proxyuser-ip",
}

// forwardingPrefixes catch the families of forwarding headers.
var forwardingPrefixes = []string{"x-forwarded-", "x-original-"}

// headerStripper removes identity headers in every spelling.
type headerStripper struct {
	exact map[string]bool
}

func newHeaderStripper(extra []string) headerStripper {
	s := headerStripper{exact: make(map[string]bool, len(identityHeaders)+len(extra))}
	for _, h := range identityHeaders {
		s.exact[h] = true
	}
	for _, h := range forwardingHeaders {
		s.exact[h] = true
	}
	for _, h := range extra {
		s.exact[normalizeHeaderName(h)] = true
	}
	return s
}

// normalizeHeaderName folds the spellings that servers treat as one header: case, and "_"
// or "." for "-" (WSGI servers such as Glance's map X_Roles and X-Roles to the same
// HTTP_X_ROLES variable).
func normalizeHeaderName(name string) string {
	b := []byte(strings.ToLower(name))
	for i, c := range b {
		if c == '_' || c == '.' {
			b[i] = '-'
		}
	}
	return string(b)
}

// isIdentity says whether a header name, in any spelling, carries identity.
func (s headerStripper) isIdentity(name string) bool {
	n := normalizeHeaderName(name)
	if s.exact[n] {
		return true
	}
	for _, p := range identityPrefixes {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	for _, p := range forwardingPrefixes {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// strip deletes every identity header from h, and every header whose name holds "_" or
// ".": no legitimate image API client needs one, and some servers fold them into "-".
func (s headerStripper) strip(h http.Header) {
	for name := range h {
		if s.isIdentity(name) || strings.ContainsAny(name, "_.") {
			delete(h, name)
		}
	}
}
