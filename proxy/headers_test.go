package proxy

import (
	"net/http"
	"testing"
)

func TestHeaderStripperRemovesEverySpelling(t *testing.T) {
	s := newHeaderStripper([]string{"X-Custom-Identity"})
	identity := []string{
		"X-Roles", "x-roles", "X_Roles", "x_roles", "X.Roles", "X-ROLES",
		"X-Tenant-Id", "X_Tenant_Id", "X-Project-Id", "x.project.id", "X-User-Id",
		"X-Identity-Status", "X_Identity_Status", "X-Service-Roles", "X-Service-Project-Id",
		"X-Domain-Id", "X-Domain-Name", "OpenStack-System-Scope", "X-Is-Admin-Project",
		"X-Auth-Token", "X-Tenant", "X-User-Name", "X-Project-Domain-Id", "X-Custom-Identity",
		"x_custom.identity", "X-Openstack-Request-Id", "X-Imagegate-Anything",
	}
	for _, name := range identity {
		t.Run(name, func(t *testing.T) {
			h := http.Header{}
			// Set the key verbatim: a server keeps non-canonical spellings as sent.
			h[name] = []string{"admin"}
			h["Accept"] = []string{"application/json"}
			s.strip(h)
			if _, ok := h[name]; ok {
				t.Fatalf("%s survived stripping", name)
			}
			if h.Get("Accept") != "application/json" {
				t.Fatalf("Accept was removed")
			}
		})
	}
}

func TestHeaderStripperKeepsOrdinaryHeaders(t *testing.T) {
	s := newHeaderStripper(nil)
	keep := []string{"Accept", "Content-Type", "Range", "If-None-Match", "User-Agent", "X-Request-Id", "Content-Length"}
	h := http.Header{}
	for _, k := range keep {
		h.Set(k, "v")
	}
	s.strip(h)
	for _, k := range keep {
		if h.Get(k) == "" {
			t.Errorf("%s was stripped", k)
		}
	}
}

func TestNormalizeHeaderName(t *testing.T) {
	for in, want := range map[string]string{
		"X_Roles": "x-roles", "X.Roles": "x-roles", "x-roles": "x-roles", "X-ROLES": "x-roles",
	} {
		if got := normalizeHeaderName(in); got != want {
			t.Errorf("normalizeHeaderName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMapRoles(t *testing.T) {
	m := map[string][]string{"member": {"member", "reader"}, "cloudImages:observer": {"reader"}}
	got := mapRoles([]string{"member", "cloudImages:observer", "unmapped"}, m)
	if len(got) != 2 || got[0] != "member" || got[1] != "reader" {
		t.Fatalf("mapRoles = %v, want [member reader]", got)
	}
	if got := mapRoles([]string{"unmapped"}, m); len(got) != 0 {
		t.Fatalf("an unmapped role became %v", got)
	}
}

// No proxy in front of imagegate is trusted, so no client claim about the original
// request (address, host, scheme, prefix, path) reaches the upstream.
func TestHeaderStripperRemovesForwardingHeaders(t *testing.T) {
	s := newHeaderStripper(nil)
	for _, name := range []string{
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Prefix",
		"X-Forwarded-Port", "X-Forwarded-Server", "X-Real-Ip", "X-Original-URL", "X-Original-Host",
		"X-Rewrite-URL", "X-Client-IP", "True-Client-IP",
	} {
		h := http.Header{}
		h[name] = []string{"evil"}
		s.strip(h)
		if len(h) != 0 {
			t.Errorf("%s survived stripping", name)
		}
	}
}
