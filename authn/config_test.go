package authn

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		ic := baseIssuer()
		ic.KeyFiles = []KeyFile{{Path: "keys/idp.pem"}}
		return Config{MaxTokenBytes: 8192, Leeway: Duration(30 * time.Second), Issuers: []IssuerConfig{ic}}
	}
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string // substring of the error; "" means valid
	}{
		{"valid", func(c *Config) {}, ""},
		{"zero max_token_bytes means default", func(c *Config) { c.MaxTokenBytes = 0 }, ""},
		{"max_token_bytes too small", func(c *Config) { c.MaxTokenBytes = 100 }, "auth.max_token_bytes: 100 is below the minimum"},
		{"negative leeway", func(c *Config) { c.Leeway = Duration(-time.Second) }, "auth.leeway: must not be negative"},
		{"negative cache size", func(c *Config) { c.Cache.MaxEntries = -1 }, "auth.cache.max_entries"},
		{"negative cache ttl", func(c *Config) { c.Cache.TTL = -1 }, "auth.cache.ttl"},
		{"no issuers", func(c *Config) { c.Issuers = nil }, "auth.issuers: at least one issuer"},
		{"empty issuer", func(c *Config) { c.Issuers[0].Issuer = "" }, "auth.issuers[0].issuer: required"},
		{"duplicate issuer", func(c *Config) { c.Issuers = append(c.Issuers, c.Issuers[0]) }, "auth.issuers[1].issuer: \"https://idp.example\" is also issuers[0]"},
		{"no audience", func(c *Config) { c.Issuers[0].Audience = nil }, "auth.issuers[0].audience: at least one audience"},
		{"any audience allowed", func(c *Config) { c.Issuers[0].Audience, c.Issuers[0].AllowAnyAudience = nil, true }, ""},
		{"empty audience entry", func(c *Config) { c.Issuers[0].Audience = []string{""} }, "auth.issuers[0].audience[0]: must not be empty"},
		{"no algorithms", func(c *Config) { c.Issuers[0].Algorithms = nil }, "auth.issuers[0].algorithms: at least one algorithm"},
		{"unknown algorithm", func(c *Config) { c.Issuers[0].Algorithms = []string{"HS999"} }, `auth.issuers[0].algorithms: unknown algorithm "HS999"`},
		{"none algorithm", func(c *Config) { c.Issuers[0].Algorithms = []string{"none"} }, `unknown algorithm "none"`},
		{"HS mixed with RS", func(c *Config) {
			c.Issuers[0].Algorithms = []string{"RS256", "HS256"}
			c.Issuers[0].KeyFiles, c.Issuers[0].HMACSecretFile = nil, "secret"
		}, "auth.issuers[0].algorithms: HS* algorithms cannot be mixed"},
		{"HS without secret", func(c *Config) { c.Issuers[0].Algorithms = []string{"HS256"} }, "auth.issuers[0].algorithms: HS* algorithms require hmac_secret_file"},
		{"HS with secret", func(c *Config) {
			c.Issuers[0].Algorithms = []string{"HS256"}
			c.Issuers[0].KeyFiles, c.Issuers[0].HMACSecretFile = nil, "secret"
		}, ""},
		{"secret with asymmetric algorithms", func(c *Config) {
			c.Issuers[0].KeyFiles, c.Issuers[0].HMACSecretFile = nil, "secret"
		}, "auth.issuers[0].hmac_secret_file: requires HS* algorithms only"},
		{"secret with key files", func(c *Config) {
			c.Issuers[0].Algorithms = []string{"HS256"}
			c.Issuers[0].HMACSecretFile = "secret"
		}, "auth.issuers[0].hmac_secret_file: cannot be combined"},
		{"no key source", func(c *Config) { c.Issuers[0].KeyFiles = nil }, "auth.issuers[0].issuer: no key source"},
		{"empty key file path", func(c *Config) { c.Issuers[0].KeyFiles = []KeyFile{{KID: "k"}} }, "auth.issuers[0].key_files[0].path: required"},
		{"https jwks_url", func(c *Config) { c.Issuers[0].JWKSURL = "https://idp.example/jwks.json" }, ""},
		{"loopback http jwks_url", func(c *Config) { c.Issuers[0].JWKSURL = "http://127.0.0.1:8080/jwks.json" }, ""},
		{"localhost http jwks_url", func(c *Config) { c.Issuers[0].JWKSURL = "http://localhost/jwks.json" }, ""},
		{"IPv6 loopback http jwks_url", func(c *Config) { c.Issuers[0].JWKSURL = "http://[::1]/jwks.json" }, ""},
		{"remote http jwks_url", func(c *Config) { c.Issuers[0].JWKSURL = "http://idp.example/jwks.json" }, "auth.issuers[0].jwks_url: URL \"http://idp.example/jwks.json\" uses plain http"},
		{"localhost lookalike", func(c *Config) { c.Issuers[0].JWKSURL = "http://localhost.evil.example/jwks.json" }, "plain http"},
		{"file jwks_url", func(c *Config) { c.Issuers[0].JWKSURL = "file:///etc/jwks.json" }, "auth.issuers[0].jwks_url"},
		{"relative jwks_url", func(c *Config) { c.Issuers[0].JWKSURL = "/jwks.json" }, "has no host"},
		{"jwks_url and discovery", func(c *Config) {
			c.Issuers[0].JWKSURL, c.Issuers[0].OIDCDiscovery = "https://idp.example/jwks", true
		}, "set either jwks_url or oidc_discovery"},
		{"discovery with non-URL issuer", func(c *Config) {
			c.Issuers[0].Issuer, c.Issuers[0].OIDCDiscovery = "my-idp", true
		}, "auth.issuers[0].issuer: oidc_discovery needs the issuer to be a URL"},
		{"discovery only is a key source", func(c *Config) {
			c.Issuers[0].KeyFiles, c.Issuers[0].OIDCDiscovery = nil, true
		}, ""},
		{"negative min_refresh_interval", func(c *Config) { c.Issuers[0].MinRefreshInterval = -1 }, "auth.issuers[0].min_refresh_interval"},
		{"negative refresh_interval", func(c *Config) { c.Issuers[0].RefreshInterval = -1 }, "auth.issuers[0].refresh_interval"},
		{"refresh_interval without JWKS", func(c *Config) { c.Issuers[0].RefreshInterval = Duration(time.Hour) }, "refresh_interval: needs jwks_url"},
		{"bad claim path", func(c *Config) { c.Issuers[0].Claims.Tenant = "project..id" }, "auth.issuers[0].claims.tenant: claim path \"project..id\" has an empty segment"},
		{"bad required claim", func(c *Config) { c.Issuers[0].RequiredClaims = []string{""} }, "auth.issuers[0].required_claims[0]"},
		{"second issuer is checked", func(c *Config) {
			ic := baseIssuer()
			ic.Issuer, ic.Algorithms = "https://b.example", []string{"XX1"}
			c.Issuers = append(c.Issuers, ic)
		}, `auth.issuers[1].algorithms: unknown algorithm "XX1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
		})
	}
}

func TestValidateReportsAllProblems(t *testing.T) {
	c := Config{MaxTokenBytes: 1, Issuers: []IssuerConfig{{}}}
	err := c.Validate()
	for _, want := range []string{"auth.max_token_bytes", "auth.issuers[0].issuer", "auth.issuers[0].audience", "auth.issuers[0].algorithms"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

func TestConfigYAML(t *testing.T) {
	const doc = `
auth:
  max_token_bytes: 8192
  leeway: 30s
  cache: {max_entries: 10000, ttl: 5m}
  issuers:
    - issuer: https://idp.example
      audience: [imagegate]
      algorithms: [RS256, ES256]
      key_files:
        - keys/idp.pem
        - {path: keys/idp.jwk.json, kid: k2}
      jwks_url: https://idp.example/jwks.json
      min_refresh_interval: 1m
      refresh_interval: 1h
      oidc_discovery: false
      hmac_secret_file: ""
      claims:
        user: sub
        tenant: project.id
        roles: realm_access.roles
        reseller: reseller_id
      required_claims: [email]
`
	var got struct {
		Auth Config `yaml:"auth"`
	}
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	c := got.Auth
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	ic := c.Issuers[0]
	switch {
	case c.Leeway.Std() != 30*time.Second, c.Cache.TTL.Std() != 5*time.Minute, c.Cache.MaxEntries != 10000:
		t.Fatalf("top level: %+v", c)
	case ic.MinRefreshInterval.Std() != time.Minute, ic.RefreshInterval.Std() != time.Hour:
		t.Fatalf("intervals: %+v", ic)
	case ic.KeyFiles[0] != KeyFile{Path: "keys/idp.pem"}, ic.KeyFiles[1] != KeyFile{Path: "keys/idp.jwk.json", KID: "k2"}:
		t.Fatalf("key files: %+v", ic.KeyFiles)
	case ic.Claims.Tenant != "project.id", ic.RequiredClaims[0] != "email":
		t.Fatalf("claims: %+v", ic)
	}

	// Round trip of Duration.
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("leeway: 30s")) {
		t.Fatalf("marshalled: %s", out)
	}
}

func TestConfigYAMLErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"duration without unit", "leeway: 30", "missing unit"},
		{"duration not a scalar", "leeway: [1]", "must be a string"},
		{"key file unknown field", "issuers: [{key_files: [{path: a, kdi: b}]}]", "field kdi not found"},
		{"key file list", "issuers: [{key_files: [[a]]}]", "path or a {path, kid} mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			err := yaml.Unmarshal([]byte(tt.doc), &c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want %q, got %v", tt.want, err)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if err := yaml.Unmarshal([]byte("issuers: [{issuer: x, audience: [a], algorithms: [RS256], key_files: [k.pem]}]"), &c); err != nil {
		t.Fatal(err)
	}
	if c.MaxTokenBytes != DefaultMaxTokenBytes || c.Leeway.Std() != 30*time.Second || c.Cache.MaxEntries != 10000 {
		t.Fatalf("defaults lost: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	d := c.withDefaults().Issuers[0]
	if d.Claims.User != "sub" || d.Claims.Tenant != "project_id" || d.Claims.Roles != "roles" || d.MinRefreshInterval.Std() != time.Minute {
		t.Fatalf("issuer defaults: %+v", d)
	}
	if c.Issuers[0].Claims.User != "" {
		t.Fatal("withDefaults modified the caller's config")
	}
}

func TestNewKeyFileErrors(t *testing.T) {
	rsaS := mustSigner(t, "RS256", "r")
	ecS := mustSigner(t, "ES256", "e")
	ecPEM := pemFile(t, ecS)
	tests := []struct {
		name   string
		mutate func(ic *IssuerConfig)
		want   string
	}{
		{"invalid config", func(ic *IssuerConfig) { ic.Algorithms = []string{"HS999"} }, `unknown algorithm "HS999"`},
		{"missing file", func(ic *IssuerConfig) { ic.KeyFiles = []KeyFile{{Path: "/nonexistent/key.pem"}} }, "auth.issuers[0].key_files[0]: open"},
		{"key type fits no algorithm", func(ic *IssuerConfig) {
			ic.KeyFiles = []KeyFile{{Path: pemFile(t, rsaS)}, {Path: ecPEM}}
		}, "auth.issuers[0].key_files[1]: " + ecPEM + ": EC P-256 key \"\" fits none of the algorithms [RS256]"},
		{"JWK alg fits no algorithm", func(ic *IssuerConfig) {
			ic.KeyFiles = []KeyFile{{Path: writeFile(t, "k.json", jwksDoc(t, mustSigner(t, "PS256", "p")))}}
		}, "fits none of the algorithms"},
		{"private key PEM", func(ic *IssuerConfig) {
			ic.KeyFiles = []KeyFile{{Path: writeFile(t, "k.pem", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))}}
		}, "private keys do not belong in the configuration"},
		{"not a key", func(ic *IssuerConfig) { ic.KeyFiles = []KeyFile{{Path: writeFile(t, "k.pem", []byte("hello"))}} }, "no PEM block or JSON key found"},
		{"short HMAC secret", func(ic *IssuerConfig) {
			ic.Algorithms, ic.KeyFiles = []string{"HS256"}, nil
			ic.HMACSecretFile = writeFile(t, "s", []byte("short\n"))
		}, "auth.issuers[0].hmac_secret_file: the secret is 5 bytes, at least 32"},
		{"missing HMAC secret", func(ic *IssuerConfig) {
			ic.Algorithms, ic.KeyFiles, ic.HMACSecretFile = []string{"HS256"}, nil, "/nonexistent/secret"
		}, "auth.issuers[0].hmac_secret_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic := baseIssuer()
			ic.KeyFiles = []KeyFile{{Path: pemFile(t, rsaS)}}
			tt.mutate(&ic)
			_, err := New(context.Background(), Config{Issuers: []IssuerConfig{ic}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want %q, got %v", tt.want, err)
			}
		})
	}
}

func TestWithBaseDir(t *testing.T) {
	s := mustSigner(t, "RS256", "k")
	dir := t.TempDir()
	b, err := s.PublicKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "idp.pem"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	ic := baseIssuer()
	ic.KeyFiles = []KeyFile{{Path: "idp.pem", KID: "k"}}
	a := newTestAuthenticator(t, Config{Issuers: []IssuerConfig{ic}}, WithBaseDir(dir), WithClock(func() time.Time { return t0 }))
	if _, err := a.AuthenticateToken(context.Background(), mustSign(t, s, validClaims())); err != nil {
		t.Fatal(err)
	}
}
