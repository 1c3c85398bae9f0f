package authn

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestClaimMapping(t *testing.T) {
	tests := []struct {
		name     string
		cfg      ClaimsConfig
		required []string
		claims   map[string]any
		want     Principal
		code     Code
	}{
		{
			name:   "flat, roles array",
			cfg:    ClaimsConfig{User: "sub", Tenant: "project_id", Roles: "roles"},
			claims: map[string]any{"sub": "u", "project_id": "p", "roles": []any{"a", " b ", ""}},
			want:   Principal{User: "u", Tenant: "p", Roles: []string{"a", "b"}},
		},
		{
			name:   "roles as comma and space separated string",
			cfg:    ClaimsConfig{User: "sub", Tenant: "project_id", Roles: "roles"},
			claims: map[string]any{"sub": "u", "project_id": "p", "roles": "reader, admin  member,,x"},
			want:   Principal{User: "u", Tenant: "p", Roles: []string{"reader", "admin", "member", "x"}},
		},
		{
			name:   "nested paths",
			cfg:    ClaimsConfig{User: "user.name", Tenant: "project.id", Roles: "realm_access.roles", Reseller: "org.reseller.id"},
			claims: map[string]any{"user": map[string]any{"name": "u"}, "project": map[string]any{"id": "p"}, "realm_access": map[string]any{"roles": []any{"r"}}, "org": map[string]any{"reseller": map[string]any{"id": "rs"}}},
			want:   Principal{User: "u", Tenant: "p", Roles: []string{"r"}, Reseller: "rs"},
		},
		{
			name:   "namespaced claim with dots wins over path",
			cfg:    ClaimsConfig{User: "sub", Tenant: "https://idp.example/tenant", Roles: "roles"},
			claims: map[string]any{"sub": "u", "https://idp.example/tenant": "p"},
			want:   Principal{User: "u", Tenant: "p", Roles: []string{}},
		},
		{
			name:   "numeric tenant keeps its digits",
			cfg:    ClaimsConfig{User: "sub", Tenant: "tenant_id", Roles: "roles"},
			claims: map[string]any{"sub": "u", "tenant_id": json.Number("12345678901234567890")},
			want:   Principal{User: "u", Tenant: "12345678901234567890", Roles: []string{}},
		},
		{
			name:   "absent roles and reseller",
			cfg:    ClaimsConfig{User: "sub", Tenant: "project_id", Roles: "roles", Reseller: "reseller_id"},
			claims: map[string]any{"sub": "u", "project_id": "p"},
			want:   Principal{User: "u", Tenant: "p", Roles: []string{}},
		},
		{
			name:   "path through a non-object",
			cfg:    ClaimsConfig{User: "sub", Tenant: "project.id", Roles: "roles"},
			claims: map[string]any{"sub": "u", "project": "flat"},
			code:   CodeMissingClaim,
		},
		{
			name:   "tenant is an object",
			cfg:    ClaimsConfig{User: "sub", Tenant: "project", Roles: "roles"},
			claims: map[string]any{"sub": "u", "project": map[string]any{"id": "p"}},
			code:   CodeInvalidClaim,
		},
		{
			name:   "tenant null",
			cfg:    ClaimsConfig{User: "sub", Tenant: "project_id", Roles: "roles"},
			claims: map[string]any{"sub": "u", "project_id": nil},
			code:   CodeMissingClaim,
		},
		{
			name:   "roles array with a number",
			cfg:    ClaimsConfig{User: "sub", Tenant: "project_id", Roles: "roles"},
			claims: map[string]any{"sub": "u", "project_id": "p", "roles": []any{"a", json.Number("1")}},
			code:   CodeInvalidClaim,
		},
		{
			name:   "reseller of wrong type",
			cfg:    ClaimsConfig{User: "sub", Tenant: "project_id", Roles: "roles", Reseller: "reseller_id"},
			claims: map[string]any{"sub": "u", "project_id": "p", "reseller_id": []any{"x"}},
			code:   CodeInvalidClaim,
		},
		{
			name:   "numeric client and reseller (Gcore ids)",
			cfg:    ClaimsConfig{User: "sub", Tenant: "project_id", Roles: "roles", Reseller: "reseller_id", Client: "client_id"},
			claims: map[string]any{"sub": "u", "project_id": json.Number("7"), "reseller_id": json.Number("1001"), "client_id": json.Number("42")},
			want:   Principal{User: "u", Tenant: "7", Roles: []string{}, Reseller: "1001", Client: "42"},
		},
		{
			name:   "client of wrong type",
			cfg:    ClaimsConfig{User: "sub", Tenant: "project_id", Roles: "roles", Client: "client_id"},
			claims: map[string]any{"sub": "u", "project_id": "p", "client_id": map[string]any{}},
			code:   CodeInvalidClaim,
		},
		{
			name:     "required claim present",
			cfg:      ClaimsConfig{User: "sub", Tenant: "project_id", Roles: "roles"},
			required: []string{"email", "org.id"},
			claims:   map[string]any{"sub": "u", "project_id": "p", "email": "e", "org": map[string]any{"id": "o"}},
			want:     Principal{User: "u", Tenant: "p", Roles: []string{}},
		},
		{
			name:     "required claim missing",
			cfg:      ClaimsConfig{User: "sub", Tenant: "project_id", Roles: "roles"},
			required: []string{"org.id"},
			claims:   map[string]any{"sub": "u", "project_id": "p", "org": map[string]any{}},
			code:     CodeMissingClaim,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newClaimMapper(tt.cfg, tt.required)
			p, err := m.principal("iss", jwt.MapClaims(tt.claims))
			if tt.code != "" {
				if err == nil || err.Code != tt.code {
					t.Fatalf("want %s, got %v", tt.code, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.User != tt.want.User || p.Tenant != tt.want.Tenant || p.Reseller != tt.want.Reseller || p.Client != tt.want.Client || p.Issuer != "iss" {
				t.Fatalf("got %+v", p)
			}
			if p.Roles == nil || !slices.Equal(p.Roles, tt.want.Roles) {
				t.Fatalf("roles %#v, want %#v", p.Roles, tt.want.Roles)
			}
		})
	}
}

// TestClaimMappingEndToEnd checks that claims decoded from a real token
// (nested objects, numbers) map as configured.
func TestClaimMappingEndToEnd(t *testing.T) {
	s := mustSigner(t, "RS256", "k")
	ic := baseIssuer()
	ic.KeyFiles = []KeyFile{{Path: pemFile(t, s), KID: "k"}}
	ic.Claims = ClaimsConfig{User: "preferred_username", Tenant: "project.id", Roles: "realm_access.roles", Reseller: "reseller"}
	ic.RequiredClaims = []string{"email"}
	a := newTestAuthenticator(t, Config{Issuers: []IssuerConfig{ic}}, WithClock(func() time.Time { return t0 }))

	claims := claimsWith(map[string]any{
		"preferred_username": "alice",
		"project":            map[string]any{"id": 123456},
		"realm_access":       map[string]any{"roles": []any{"images:creator"}},
		"reseller":           "r-9",
		"email":              "alice@example.com",
	})
	p, err := a.AuthenticateToken(context.Background(), mustSign(t, s, claims))
	if err != nil {
		t.Fatal(err)
	}
	if p.User != "alice" || p.Tenant != "123456" || p.Reseller != "r-9" || !slices.Equal(p.Roles, []string{"images:creator"}) {
		t.Fatalf("principal %+v", p)
	}
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back["tenant"] != "123456" || back["issuer"] != testIssuer || back["claims"] == nil {
		t.Fatalf("JSON %s", out)
	}

	delete(claims, "email")
	tok := mustSign(t, s, claims)
	_, err = a.AuthenticateToken(context.Background(), tok)
	wantCode(t, err, CodeMissingClaim, tok)
}
