package authn

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzTokenPreparse feeds arbitrary header values and tokens through everything that
// reads a token before its signature is checked (TokenFromRequest, the size and shape
// checks, peek) and then through a real authenticator. Nothing may panic, every refusal
// is an *Error with a code, the pre-parse refuses oversized and many-dot tokens before
// decoding anything, and no token the fuzzer makes authenticates unless it carries the
// seed's signed header and claims unchanged: signatures cannot be forged by mutation.
func FuzzTokenPreparse(f *testing.F) {
	s := mustSigner(f, "RS256", "k1")
	valid := mustSign(f, s, validClaims())
	parts := strings.SplitN(valid, ".", 3)
	for _, seed := range []string{
		valid, parts[0] + "." + parts[1] + ".", parts[0] + ".e30." + parts[2],
		"eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIn0.",
		"a.b.c", "...", "a.b", "a.b.c.d", "", " ", strings.Repeat("a.", 100),
		"eyJhbGciOiJSUzI1NiIsImNyaXQiOlsieCJdfQ.e30.c2ln", "eyJhbGciOiJSUzI1NiJ9.e30+.c2ln",
		"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjF9.c2ln", "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIifQ.c2ln",
	} {
		f.Add(seed, "Bearer "+seed)
		f.Add(seed, "")
	}
	ic := baseIssuer()
	ic.KeyFiles = []KeyFile{{Path: pemFile(f, s), KID: "k1"}}
	a := newTestAuthenticator(f, Config{Issuers: []IssuerConfig{ic}}, WithClock(func() time.Time { return t0 }))

	f.Fuzz(func(t *testing.T, xAuth, authorization string) {
		r := &http.Request{Header: http.Header{}}
		if xAuth != "" {
			r.Header["X-Auth-Token"] = []string{xAuth}
		}
		if authorization != "" {
			r.Header["Authorization"] = []string{authorization}
		}
		tok, err := TokenFromRequest(r)
		if err != nil {
			requireCode(t, err)
		} else if tok == "" || tok != strings.TrimSpace(tok) {
			t.Fatalf("token %q taken from the request", tok)
		}

		// The pre-parse, on the raw value.
		if e := checkSize(xAuth, DefaultMaxTokenBytes); e != nil {
			if len(xAuth) > DefaultMaxTokenBytes && e.Code != CodeTooLarge {
				t.Fatalf("oversized token refused as %s", e.Code)
			}
		} else {
			if len(xAuth) > DefaultMaxTokenBytes || strings.Count(xAuth, ".") != 2 {
				t.Fatalf("size check passed %d bytes with %d dots", len(xAuth), strings.Count(xAuth, "."))
			}
			if e := checkShape(xAuth); e == nil {
				hdr, iss, e := peek(xAuth)
				if e == nil && (iss == "" || !utf8.ValidString(hdr.Alg+hdr.Kid)) {
					t.Fatalf("peek returned issuer %q, alg %q, kid %q", iss, hdr.Alg, hdr.Kid)
				}
			}
		}

		// The whole authenticator.
		p, err := a.Authenticate(context.Background(), r)
		if err != nil {
			requireCode(t, err)
			return
		}
		if tok == valid {
			return
		}
		got := strings.SplitN(tok, ".", 3)
		if len(got) != 3 || got[0] != parts[0] || got[1] != parts[1] {
			t.Fatalf("a token the issuer never signed authenticated as %+v: %q", p, tok)
		}
	})
}

func requireCode(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !asError(err, &e) || e.Code == "" || e.Code == CodeOK {
		t.Fatalf("error %v (%T) carries no code", err, err)
	}
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*target = e
	}
	return ok
}

// FuzzClaimMapping maps arbitrary verified-claim documents, with arbitrary claim paths,
// to a principal. Nothing may panic; a principal always has a non-empty user and
// tenant, roles that are non-nil and free of empty strings, and each value is exactly
// what the configured claim holds.
func FuzzClaimMapping(f *testing.F) {
	for _, seed := range []struct{ claims, tenant, roles string }{
		{`{"sub":"u","project_id":"p","roles":["a","b"]}`, "project_id", "roles"},
		{`{"sub":"u","project_id":123456,"roles":"a, b c"}`, "project_id", "roles"},
		{`{"sub":"u","project":{"id":"p"},"realm_access":{"roles":["admin"]}}`, "project.id", "realm_access.roles"},
		{`{"sub":"u","https://idp/tenant":"p","https://idp/roles":[" "]}`, "https://idp/tenant", "https://idp/roles"},
		{`{"sub":"u","project_id":"","roles":null}`, "project_id", "roles"},
		{`{"sub":"u","project_id":{"id":"p"},"roles":[1]}`, "project_id", "roles"},
		{`{"sub":"u","project_id":1e400}`, "project_id", "roles"},
		{`{"sub":"u","a":{"b":{"c":"p"}},"a.b":"q"}`, "a.b.c", "a.b"},
		{`{"sub":["u"],"project_id":"p"}`, "project_id", "roles"},
		{`{"sub":"u","project_id":"p","roles":["a",{"b":1}]}`, "project_id", "roles"},
	} {
		f.Add(seed.claims, seed.tenant, seed.roles)
	}
	f.Fuzz(func(t *testing.T, doc, tenantPath, rolesPath string) {
		if checkClaimPath(tenantPath) != nil || checkClaimPath(rolesPath) != nil {
			return // Validate refuses these paths at start-up
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(doc)))
		dec.UseNumber()
		var claims map[string]any
		if err := dec.Decode(&claims); err != nil || claims == nil {
			return
		}
		m := newClaimMapper(ClaimsConfig{User: "sub", Tenant: tenantPath, Roles: rolesPath, Reseller: "reseller_id"}, nil)
		p, e := m.principal("iss", jwt.MapClaims(claims))
		if e != nil {
			if e.Code != CodeMissingClaim && e.Code != CodeInvalidClaim {
				t.Fatalf("claim mapping refused with %s", e.Code)
			}
			return
		}
		if p.User == "" || p.Tenant == "" || p.Roles == nil {
			t.Fatalf("principal %+v from %s", p, doc)
		}
		for _, r := range p.Roles {
			if strings.TrimSpace(r) == "" || r != strings.TrimSpace(r) {
				t.Fatalf("role %q from %s", r, doc)
			}
		}
		v, ok := newClaimPath(tenantPath).lookup(claims)
		if s, isStr := v.(string); !ok || (isStr && s != p.Tenant) {
			t.Fatalf("tenant %q, claim %s holds %v", p.Tenant, tenantPath, v)
		}
		if n, isNum := v.(json.Number); isNum && n.String() != p.Tenant {
			t.Fatalf("tenant %q, claim %s holds the number %v", p.Tenant, tenantPath, n)
		}
	})
}
