package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// validYAML is the smallest configuration that starts.
const validYAML = `
upstream:
  url: http://127.0.0.1:9292
auth:
  issuers:
    - issuer: https://idp.test
      audience: [imagegate]
      algorithms: [RS256]
      jwks_url: https://idp.test/jwks.json
`

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "imagegate.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadValidKeepsDefaults(t *testing.T) {
	cfg, err := Load(writeConfig(t, validYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Upstream.Mode != ModeDelegated || cfg.Listen != "127.0.0.1:8080" || cfg.Limits.MaxInFlight != 1024 {
		t.Fatalf("defaults lost: %+v", cfg)
	}
	if cfg.Upstream.DialTimeout.D() != 5*time.Second {
		t.Fatalf("dial timeout = %s", cfg.Upstream.DialTimeout.D())
	}
}

func TestLoadRefusesWithTheKeyNamed(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown top-level key", validYAML + "listne: 1.2.3.4:80\n", "listne"},
		{"unknown nested key", strings.Replace(validYAML, "url:", "ulr: x\n  url:", 1), "ulr"},
		{"bad mode", validYAML + "upstream_extra: 1\n", "upstream_extra"},
		{"bad duration", validYAML + "limits: {idle_timeout: forever}\n", "forever"},
		{"negative limit", validYAML + "limits: {max_in_flight: -1}\n", "limits.max_in_flight"},
		{"zero data limit", validYAML + "limits: {max_in_flight_data: 0}\n", "limits.max_in_flight_data"},
		{"bad audit sink", validYAML + "audit: {sink: kafka}\n", "audit.sink"},
		{"file sink without file", validYAML + "audit: {sink: file}\n", "audit.file"},
		{"no issuers", "upstream: {url: http://127.0.0.1:1}\n", "auth"},
		{"bad listen", validYAML + "listen: nowhere\n", "listen"},
		{"bad log level", validYAML + "log: {level: loud}\n", "log.level"},
		{"tls half", validYAML + "tls: {cert_file: a.pem}\n", "tls"},
		{"unknown dialect", validYAML + "dialect: swift\n", "dialect"},
		{"unknown reseller source", validYAML + "reseller: {source: ldap}\n", "reseller.source"},
		{"reseller upstream with glance", validYAML + "reseller: {source: upstream}\n", "reseller.source"},
		{"reseller file with upstream", validYAML + "dialect: gcore\nreseller: {source: upstream, file: r.yaml}\n", "reseller.file"},
		{"glance reseller file without region", validYAML + "reseller: {file: r.yaml}\n", "reseller.region"},
		{"region not a number", validYAML + "reseller: {region: eu-1}\n", "reseller.region"},
		{"negative reseller ttl", validYAML + "reseller: {cache_ttl: -1s}\n", "reseller.cache_ttl"},
		{"unknown reseller key", validYAML + "reseller: {sauce: data}\n", "sauce"},
		{"negative watch interval", validYAML + "policy: {dir: p, watch_interval: -1s}\n", "policy.watch_interval"},
		{"watch interval without dir", validYAML + "policy: {watch_interval: 5s}\n", "policy.watch_interval: needs policy.dir"},
		{"bundle and dir", validYAML + "policy: {dir: p, bundle: {url: https://b.example}}\n", "policy.dir and policy.bundle.url exclude each other"},
		{"bundle url not absolute", validYAML + "policy: {bundle: {url: b.example/x}}\n", "policy.bundle.url"},
		{"bundle resource not a path", validYAML + "policy: {bundle: {url: https://b.example, resource: bundle.tar.gz}}\n", "policy.bundle.resource"},
		{"bundle delays", validYAML + "policy: {bundle: {url: https://b.example, min_delay: 10s, max_delay: 5s}}\n", "policy.bundle.min_delay"},
		{"bundle startup timeout", validYAML + "policy: {bundle: {url: https://b.example, startup_timeout: 0s}}\n", "policy.bundle.startup_timeout"},
		{"http sink without url", validYAML + "audit: {sink: http}\n", "audit.url"},
		{"http sink url not absolute", validYAML + "audit: {sink: http, url: collector/logs}\n", "audit.url"},
		{"zero batch size", validYAML + "audit: {batch_size: 0}\n", "audit.batch_size"},
		{"mask not a pointer", validYAML + "audit: {mask: [/input/principal/user, input]}\n", "audit.mask[1]"},
		{"mask of everything", validYAML + "audit: {mask: [/]}\n", "audit.mask[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tt.yaml), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to name %q", err, tt.want)
			}
		})
	}
}

func TestLoadUpstreamMode(t *testing.T) {
	for _, tt := range []struct {
		mode string
		ok   bool
	}{{"delegated", true}, {"service", true}, {"trusted", false}, {"", false}} {
		_, err := Load(writeConfig(t, validYAML), []string{"IMAGEGATE_UPSTREAM_MODE=" + tt.mode})
		if (err == nil) != tt.ok {
			t.Errorf("mode %q: err = %v", tt.mode, err)
		}
	}
	_, err := Load(writeConfig(t, validYAML), []string{"IMAGEGATE_UPSTREAM_URL=ftp://x"})
	if err == nil || !strings.Contains(err.Error(), "upstream.url") {
		t.Fatalf("ftp upstream: %v", err)
	}
}

func TestEnvOverrides(t *testing.T) {
	env := []string{
		"IMAGEGATE_UPSTREAM_URL=http://glance:9292",
		"IMAGEGATE_UPSTREAM_FORWARD_TOKEN=true",
		"IMAGEGATE_LIMITS_MAX_IN_FLIGHT=7",
		"IMAGEGATE_LIMITS_IDLE_TIMEOUT=3s",
		"IMAGEGATE_UPSTREAM_SERVICE_IDENTITY_ROLES=admin, reader",
		"IMAGEGATE_AUTH_ISSUERS_0_AUDIENCE=a,b",
		"IMAGEGATE_AUTH_LEEWAY=1m",
		"PATH=/usr/bin",
	}
	cfg, err := Load(writeConfig(t, validYAML), env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Upstream.URL != "http://glance:9292" || !cfg.Upstream.ForwardToken || cfg.Limits.MaxInFlight != 7 ||
		cfg.Limits.IdleTimeout.D() != 3*time.Second {
		t.Fatalf("overrides not applied: %+v", cfg.Upstream)
	}
	if got := cfg.Upstream.ServiceIdentity.Roles; len(got) != 2 || got[1] != "reader" {
		t.Fatalf("roles = %q", got)
	}
	if got := cfg.Auth.Issuers[0].Audience; len(got) != 2 || got[0] != "a" {
		t.Fatalf("audience = %q", got)
	}
	if cfg.Auth.Leeway.Std() != time.Minute {
		t.Fatalf("leeway = %s", cfg.Auth.Leeway)
	}
}

func TestEnvOnlyConfiguration(t *testing.T) {
	env := []string{
		"IMAGEGATE_UPSTREAM_URL=http://127.0.0.1:9292",
		"IMAGEGATE_AUTH_ISSUERS_0_ISSUER=https://idp.test",
		"IMAGEGATE_AUTH_ISSUERS_0_AUDIENCE=imagegate",
		"IMAGEGATE_AUTH_ISSUERS_0_ALGORITHMS=RS256",
		"IMAGEGATE_AUTH_ISSUERS_0_JWKS_URL=https://idp.test/jwks",
	}
	cfg, err := Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Auth.Issuers) != 1 || cfg.Auth.Issuers[0].Issuer != "https://idp.test" {
		t.Fatalf("issuers = %+v", cfg.Auth.Issuers)
	}
}

func TestEnvRefusals(t *testing.T) {
	for _, tt := range []struct{ env, want string }{
		{"IMAGEGATE_UPSTREAM_URLL=http://x", "IMAGEGATE_UPSTREAM_URLL"},
		{"IMAGEGATE_LIMITS_MAX_IN_FLIGHT=many", "IMAGEGATE_LIMITS_MAX_IN_FLIGHT"},
		{"IMAGEGATE_UPSTREAM_FORWARD_TOKEN=maybe", "IMAGEGATE_UPSTREAM_FORWARD_TOKEN"},
		{"IMAGEGATE_LIMITS_IDLE_TIMEOUT=soon", "IMAGEGATE_LIMITS_IDLE_TIMEOUT"},
		{"IMAGEGATE_AUTH_ISSUERS_5_ISSUER=x", "IMAGEGATE_AUTH_ISSUERS_5_ISSUER"},
	} {
		_, err := Load(writeConfig(t, validYAML), []string{tt.env})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v", tt.env, err)
		}
	}
}

func TestWarnings(t *testing.T) {
	cfg, err := Load(writeConfig(t, validYAML), []string{
		"IMAGEGATE_UPSTREAM_TLS_INSECURE_SKIP_VERIFY=true", "IMAGEGATE_ADMIN_LISTEN=0.0.0.0:9090",
	})
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Warnings(); len(w) != 2 {
		t.Fatalf("warnings = %q", w)
	}
}

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := Load("../config.example.yaml", nil)
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	if cfg.Upstream.URL == "" {
		t.Fatal("example has no upstream")
	}
}

func TestLoadGcoreDialect(t *testing.T) {
	cfg, err := Load(writeConfig(t, validYAML+"dialect: gcore\nreseller: {source: upstream, cache_ttl: 10s}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Dialect != DialectGcore || cfg.Reseller.Source != ResellerFromUpstream || cfg.Reseller.CacheTTL.D() != 10*time.Second {
		t.Fatalf("reseller = %+v", cfg.Reseller)
	}
	cfg, err = Load(writeConfig(t, validYAML), []string{"IMAGEGATE_RESELLER_FILE=limits.yaml", "IMAGEGATE_RESELLER_REGION=1"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Dialect != DialectGlance || cfg.Reseller.Source != ResellerFromData || cfg.Reseller.File != "limits.yaml" {
		t.Fatalf("reseller = %+v", cfg.Reseller)
	}
}
