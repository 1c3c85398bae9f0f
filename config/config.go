// Package config holds imagegate's options: the YAML file, the IMAGEGATE_… environment
// overrides, defaults and validation.
//
// Loading follows load → override → default → validate: unknown keys in the file and
// unknown IMAGEGATE_ variables are errors, and every validation error names the offending
// key, so a bad configuration stops the process at start-up instead of starting a
// half-working proxy.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/imagegate/imagegate/authn"
)

// Dialects: the API the upstream speaks (route.DialectGlance, route.DialectGcore).
const (
	DialectGlance = "glance"
	DialectGcore  = "gcore"
)

// Upstream modes: who enforces visibility.
const (
	// ModeDelegated forwards the caller's identity; the upstream enforces too (real Glance).
	ModeDelegated = "delegated"
	// ModeService forwards a fixed service identity; the upstream trusts the proxy and the
	// proxy alone enforces.
	ModeService = "service"
)

// Config is the whole configuration of one imagegate process.
type Config struct {
	// Listen is the address of the proxy listener.
	Listen string `yaml:"listen"`
	// AdminListen is the address of /healthz, /readyz and /metrics. Keep it private.
	AdminListen string `yaml:"admin_listen"`
	// TLS, when both files are set, serves the proxy listener over TLS.
	TLS ServerTLS `yaml:"tls"`
	// Dialect is the API the upstream speaks: glance (OpenStack Glance v2) or gcore
	// (Gcore-style cloud images v1).
	Dialect string `yaml:"dialect"`
	// Upstream is the protected image service.
	Upstream Upstream `yaml:"upstream"`
	// Auth configures token verification.
	Auth authn.Config `yaml:"auth"`
	// Policy says where the Rego policies and their data come from.
	Policy Policy `yaml:"policy"`
	// Enrich configures the lookups of image records and memberships the policy needs.
	Enrich Enrich `yaml:"enrich"`
	// Reseller says where reseller image limits and shared images come from.
	Reseller Reseller `yaml:"reseller"`
	// Limits bounds what one request may cost.
	Limits Limits `yaml:"limits"`
	// Audit configures the decision log.
	Audit Audit `yaml:"audit"`
	// Log configures the process log (not the decision log).
	Log Log `yaml:"log"`
}

// ServerTLS is a certificate for a listener.
type ServerTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Upstream is where allowed calls go and how they are dressed.
type Upstream struct {
	// URL of the image API, e.g. http://127.0.0.1:9292.
	URL string `yaml:"url"`
	// Mode is delegated or service (see the constants).
	Mode string `yaml:"mode"`
	// ForwardToken keeps the caller's token on the forwarded request. Off by default:
	// the upstream trusts identity headers, and a token it does not need is one more
	// place for it to leak.
	ForwardToken bool `yaml:"forward_token"`
	// RoleMap turns principal roles into the roles the upstream understands. A role not in
	// the map is not sent. Values are lists: send implied roles as Keystone would.
	RoleMap map[string][]string `yaml:"role_map"`
	// ServiceIdentity is the identity the proxy uses for its own lookups and, in service
	// mode, for every forwarded call.
	ServiceIdentity ServiceIdentity `yaml:"service_identity"`
	// StripHeaders are extra client request headers carrying identity to remove, on top of
	// the built-in list.
	StripHeaders []string `yaml:"strip_headers"`
	// MarkerKeyFile holds the secret (at least 32 bytes) that seals pagination markers of
	// filtered lists. Replicas behind one load balancer need the same; empty makes a
	// random key per process.
	MarkerKeyFile string `yaml:"marker_key_file"`
	// DialTimeout bounds connecting to the upstream.
	DialTimeout Duration `yaml:"dial_timeout"`
	// ResponseHeaderTimeout bounds the wait for the upstream's response headers
	// (bodies stream and are bounded by the server's write timeout instead).
	ResponseHeaderTimeout Duration `yaml:"response_header_timeout"`
	// IdleConnTimeout closes idle keep-alive connections to the upstream.
	IdleConnTimeout Duration `yaml:"idle_conn_timeout"`
	// MaxIdleConnsPerHost is the connection pool kept to the upstream.
	MaxIdleConnsPerHost int `yaml:"max_idle_conns_per_host"`
	// TLS configures https upstreams.
	TLS ClientTLS `yaml:"tls"`
}

// ServiceIdentity is a fixed identity the upstream trusts.
type ServiceIdentity struct {
	Project string   `yaml:"project"`
	User    string   `yaml:"user"`
	Roles   []string `yaml:"roles"`
}

// ClientTLS configures the connection to an https upstream.
type ClientTLS struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Policy says where policies come from and how they change.
type Policy struct {
	// Dir is a directory of .rego files and data.json/data.yaml; empty means the policies
	// shipped inside the binary (unless Bundle.URL is set).
	Dir string `yaml:"dir"`
	// WatchInterval, when positive, polls Dir and reloads it when its files change.
	WatchInterval Duration `yaml:"watch_interval"`
	// TestOnReload runs the *_test.rego tests of a new policy before it may replace the
	// one in force; a failing test keeps the old one.
	TestOnReload bool `yaml:"test_on_reload"`
	// Bundle loads the policy from an OPA bundle served over HTTP instead of Dir.
	Bundle Bundle `yaml:"bundle"`
	// ShadowDir is a second policy evaluated beside the enforced one on every request;
	// where the two disagree, the difference is logged and counted, never enforced.
	ShadowDir string `yaml:"shadow_dir"`
	// DryRun logs denials but forwards the request anyway. For rolling imagegate out in
	// front of a running service only: it lets every request through.
	DryRun bool `yaml:"dry_run"`
}

// Bundle is an OPA bundle source (OPA's bundle protocol: ETag polling, optional
// signature verification).
type Bundle struct {
	// URL of the bundle service, e.g. https://bundles.internal.
	URL string `yaml:"url"`
	// Resource is the bundle's path on the service.
	Resource string `yaml:"resource"`
	// MinDelay and MaxDelay bound the polling interval (whole seconds).
	MinDelay Duration `yaml:"min_delay"`
	MaxDelay Duration `yaml:"max_delay"`
	// PublicKeyFile verifies the bundle's signature; empty accepts unsigned bundles.
	PublicKeyFile string `yaml:"public_key_file"`
	// KeyID is the key id in the bundle's signature.
	KeyID string `yaml:"key_id"`
	// Algorithm of the signature.
	Algorithm string `yaml:"algorithm"`
	// Scope the signature must carry, if any.
	Scope string `yaml:"scope"`
	// StartupTimeout is how long start-up waits for the first bundle before failing.
	StartupTimeout Duration `yaml:"startup_timeout"`
}

// Enrich configures image and membership lookups.
type Enrich struct {
	// CacheTTL is how long a looked-up record is reused. Writes through the proxy
	// invalidate it earlier.
	CacheTTL Duration `yaml:"cache_ttl"`
	// CacheSize bounds the number of cached records.
	CacheSize int `yaml:"cache_size"`
	// Timeout bounds one lookup.
	Timeout Duration `yaml:"timeout"`
	// Concurrency bounds parallel membership lookups while filtering one list page.
	Concurrency int `yaml:"concurrency"`
}

// Reseller image limit sources (docs/gcore.md).
const (
	// ResellerFromData: limits and shared images are policy data (data.imagegate.reseller),
	// from Reseller.File or from the policy directory or bundle.
	ResellerFromData = "data"
	// ResellerFromUpstream: limits and shared images are read from the upstream's own
	// reseller_image and shared_image endpoints (dialect gcore).
	ResellerFromUpstream = "upstream"
)

// Reseller configures reseller image limits and shared images.
type Reseller struct {
	// Source is data (the default) or upstream.
	Source string `yaml:"source"`
	// File, with source data, holds limit and shared-image rows (JSON or YAML); empty
	// means whatever data.imagegate.reseller the policy directory holds (none shipped).
	File string `yaml:"file"`
	// Region is the region id of the images of a glance upstream, whose paths name no
	// region; required with dialect glance when File is set.
	Region string `yaml:"region"`
	// CacheTTL, with source upstream, is how long looked-up limits are reused; writes
	// to reseller_image and shared_image through the proxy refresh them at once.
	CacheTTL Duration `yaml:"cache_ttl"`
}

// Limits bounds requests.
type Limits struct {
	MaxHeaderBytes   int   `yaml:"max_header_bytes"`
	MaxJSONBodyBytes int64 `yaml:"max_json_body_bytes"`
	MaxResponseBytes int64 `yaml:"max_response_bytes"`
	MaxQueryParams   int   `yaml:"max_query_params"`
	MaxInFlight      int   `yaml:"max_in_flight"`
	// MaxInFlightData bounds the image data transfers (uploads and downloads) in flight,
	// a part of MaxInFlight: each holds a copy buffer, an upstream connection and their
	// goroutines, so that many downloads offered at once cost memory the others do not.
	MaxInFlightData   int      `yaml:"max_in_flight_data"`
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	IdleTimeout       Duration `yaml:"idle_timeout"`
	ShutdownTimeout   Duration `yaml:"shutdown_timeout"`
	// MaxJSONDepth bounds the nesting of JSON request bodies.
	MaxJSONDepth int `yaml:"max_json_depth"`
	// BodyReadTimeout bounds reading a JSON request body (a client dripping one is
	// answered 408). Image data is bounded by DataIdleTimeout instead.
	BodyReadTimeout Duration `yaml:"body_read_timeout"`
	// DataIdleTimeout is the longest image data streams (uploads from the client,
	// downloads to it, answers from the upstream) may stall without a byte moving; a
	// stalled stream is cut at both ends.
	DataIdleTimeout Duration `yaml:"data_idle_timeout"`
}

// Audit configures the decision log.
type Audit struct {
	// Sink is stdout, stderr, file or none.
	Sink string `yaml:"sink"`
	// File is the path for sink file (appended to).
	File string `yaml:"file"`
	// Buffer is the number of events held while the sink is slow; beyond it events are
	// dropped and counted.
	Buffer int `yaml:"buffer"`
	// URL is the decision log collector of sink http (OPA's upload protocol: gzip'd JSON
	// arrays POSTed, retried with back-off).
	URL string `yaml:"url"`
	// BatchSize bounds one upload.
	BatchSize int `yaml:"batch_size"`
	// Mask lists JSON pointers of event fields to remove, e.g. /input/principal/user.
	Mask []string `yaml:"mask"`
}

// Log configures the process log.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Default returns the configuration used when a key is not set.
func Default() Config {
	return Config{
		Listen:      "127.0.0.1:8080",
		AdminListen: "127.0.0.1:9090",
		Dialect:     "glance",
		Upstream: Upstream{
			Mode: ModeDelegated,
			RoleMap: map[string][]string{
				"admin":                {"admin", "member", "reader"},
				"member":               {"member", "reader"},
				"reader":               {"reader"},
				"identity:user-admin":  {"member", "reader"},
				"cloudImages:admin":    {"member", "reader"},
				"cloudImages:creator":  {"member", "reader"},
				"cloudImages:observer": {"reader"},
				"observer":             {"reader"},
			},
			ServiceIdentity: ServiceIdentity{
				Project: "imagegate",
				User:    "imagegate",
				Roles:   []string{"admin", "member", "reader"},
			},
			DialTimeout:           Duration(5 * time.Second),
			ResponseHeaderTimeout: Duration(30 * time.Second),
			IdleConnTimeout:       Duration(90 * time.Second),
			MaxIdleConnsPerHost:   128,
		},
		Auth: authn.DefaultConfig(),
		Enrich: Enrich{
			CacheTTL:    Duration(5 * time.Second),
			CacheSize:   10000,
			Timeout:     Duration(5 * time.Second),
			Concurrency: 8,
		},
		Reseller: Reseller{Source: ResellerFromData, CacheTTL: Duration(30 * time.Second)},
		Limits: Limits{
			MaxHeaderBytes:    32 << 10,
			MaxJSONBodyBytes:  64 << 10,
			MaxResponseBytes:  16 << 20,
			MaxQueryParams:    64,
			MaxInFlight:       1024,
			MaxInFlightData:   32,
			ReadHeaderTimeout: Duration(10 * time.Second),
			IdleTimeout:       Duration(120 * time.Second),
			ShutdownTimeout:   Duration(30 * time.Second),
			MaxJSONDepth:      32,
			BodyReadTimeout:   Duration(30 * time.Second),
			DataIdleTimeout:   Duration(60 * time.Second),
		},
		Policy: Policy{Bundle: Bundle{
			Resource: "/bundles/imagegate.tar.gz", MinDelay: Duration(10 * time.Second), MaxDelay: Duration(30 * time.Second),
			KeyID: "imagegate", Algorithm: "RS256", StartupTimeout: Duration(30 * time.Second),
		}},
		Audit: Audit{Sink: "stdout", Buffer: 10000, BatchSize: 100},
		Log:   Log{Level: "info", Format: "json"},
	}
}

// Load reads a YAML file (path may be empty: defaults only), applies IMAGEGATE_…
// environment overrides from environ, and validates the result.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := decodeYAML(raw, &cfg); err != nil {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, environ); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// decodeYAML decodes strictly: an unknown key is a typo that would otherwise silently
// leave a security setting at its default.
func decodeYAML(raw []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Validate checks every field and names the first offending key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%v", err)
	}
	if _, _, err := net.SplitHostPort(c.AdminListen); err != nil {
		bad("admin_listen", "%v", err)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", "cert_file and key_file go together")
	}
	if c.Dialect != DialectGlance && c.Dialect != DialectGcore {
		bad("dialect", "unknown dialect %q (want %s or %s)", c.Dialect, DialectGlance, DialectGcore)
	}
	c.validateReseller(bad)
	if u, err := url.Parse(c.Upstream.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("upstream.url", "want an absolute http(s) URL, got %q", c.Upstream.URL)
	} else if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		bad("upstream.url", "must not carry a query, fragment or credentials")
	}
	if c.Upstream.Mode != ModeDelegated && c.Upstream.Mode != ModeService {
		bad("upstream.mode", "want %q or %q, got %q", ModeDelegated, ModeService, c.Upstream.Mode)
	}
	if c.Upstream.ServiceIdentity.Project == "" || len(c.Upstream.ServiceIdentity.Roles) == 0 {
		bad("upstream.service_identity", "project and roles are required")
	}
	for role, up := range c.Upstream.RoleMap {
		for _, r := range up {
			if r == "" || strings.ContainsAny(r, ", \t\r\n") {
				bad("upstream.role_map."+role, "invalid upstream role %q", r)
			}
		}
	}
	for i, h := range c.Upstream.StripHeaders {
		if h == "" || strings.ContainsAny(h, " :\t\r\n") {
			bad(fmt.Sprintf("upstream.strip_headers[%d]", i), "invalid header name %q", h)
		}
	}
	if (c.Upstream.TLS.CertFile == "") != (c.Upstream.TLS.KeyFile == "") {
		bad("upstream.tls", "cert_file and key_file go together")
	}
	positive := map[string]time.Duration{
		"upstream.dial_timeout":            c.Upstream.DialTimeout.D(),
		"upstream.response_header_timeout": c.Upstream.ResponseHeaderTimeout.D(),
		"upstream.idle_conn_timeout":       c.Upstream.IdleConnTimeout.D(),
		"enrich.timeout":                   c.Enrich.Timeout.D(),
		"limits.read_header_timeout":       c.Limits.ReadHeaderTimeout.D(),
		"limits.idle_timeout":              c.Limits.IdleTimeout.D(),
		"limits.shutdown_timeout":          c.Limits.ShutdownTimeout.D(),
		"limits.body_read_timeout":         c.Limits.BodyReadTimeout.D(),
		"limits.data_idle_timeout":         c.Limits.DataIdleTimeout.D(),
	}
	for key, d := range positive {
		if d <= 0 {
			bad(key, "must be positive, got %s", d)
		}
	}
	if c.Enrich.CacheTTL < 0 {
		bad("enrich.cache_ttl", "must not be negative")
	}
	ints := map[string]int64{
		"upstream.max_idle_conns_per_host": int64(c.Upstream.MaxIdleConnsPerHost),
		"enrich.cache_size":                int64(c.Enrich.CacheSize),
		"enrich.concurrency":               int64(c.Enrich.Concurrency),
		"limits.max_header_bytes":          int64(c.Limits.MaxHeaderBytes),
		"limits.max_json_body_bytes":       c.Limits.MaxJSONBodyBytes,
		"limits.max_response_bytes":        c.Limits.MaxResponseBytes,
		"limits.max_query_params":          int64(c.Limits.MaxQueryParams),
		"limits.max_in_flight":             int64(c.Limits.MaxInFlight),
		"limits.max_in_flight_data":        int64(c.Limits.MaxInFlightData),
		"limits.max_json_depth":            int64(c.Limits.MaxJSONDepth),
	}
	for key, v := range ints {
		if v <= 0 {
			bad(key, "must be positive, got %d", v)
		}
	}
	if c.Policy.WatchInterval < 0 {
		bad("policy.watch_interval", "must not be negative")
	}
	if b := c.Policy.Bundle; b.URL != "" {
		if c.Policy.Dir != "" {
			bad("policy.bundle.url", "policy.dir and policy.bundle.url exclude each other")
		}
		if u, err := url.Parse(b.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("policy.bundle.url", "want an absolute http(s) URL, got %q", b.URL)
		}
		if !strings.HasPrefix(b.Resource, "/") {
			bad("policy.bundle.resource", "want a path starting with /, got %q", b.Resource)
		}
		if b.MinDelay.D() < time.Second || b.MaxDelay < b.MinDelay {
			bad("policy.bundle.min_delay", "want 1s <= min_delay <= max_delay")
		}
		if b.StartupTimeout <= 0 {
			bad("policy.bundle.startup_timeout", "must be positive")
		}
	}
	if c.Policy.WatchInterval > 0 && c.Policy.Dir == "" {
		bad("policy.watch_interval", "needs policy.dir")
	}
	switch c.Audit.Sink {
	case "stdout", "stderr", "none":
	case "file":
		if c.Audit.File == "" {
			bad("audit.file", "required when audit.sink is file")
		}
	case "http":
		if u, err := url.Parse(c.Audit.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("audit.url", "want an absolute http(s) URL when audit.sink is http, got %q", c.Audit.URL)
		}
	default:
		bad("audit.sink", "want stdout, stderr, file, http or none, got %q", c.Audit.Sink)
	}
	if c.Audit.BatchSize <= 0 {
		bad("audit.batch_size", "must be positive, got %d", c.Audit.BatchSize)
	}
	for i, m := range c.Audit.Mask {
		if !strings.HasPrefix(m, "/") || m == "/" {
			bad(fmt.Sprintf("audit.mask[%d]", i), "want a JSON pointer such as /input/principal/user, got %q", m)
		}
	}
	if c.Audit.Buffer <= 0 {
		bad("audit.buffer", "must be positive, got %d", c.Audit.Buffer)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		bad("log.format", "want json or text, got %q", c.Log.Format)
	}
	if err := c.Auth.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("auth.%w", err))
	}
	return errors.Join(errs...)
}

// validateReseller checks the reseller section against the dialect.
func (c *Config) validateReseller(bad func(key, format string, args ...any)) {
	r := c.Reseller
	switch r.Source {
	case ResellerFromData:
	case ResellerFromUpstream:
		if c.Dialect != DialectGcore {
			bad("reseller.source", "upstream needs dialect %s: a %s upstream has no reseller_image or shared_image endpoints (use data)", DialectGcore, c.Dialect)
		}
		if r.File != "" {
			bad("reseller.file", "goes with source data, not upstream")
		}
	default:
		bad("reseller.source", "want %s or %s, got %q", ResellerFromData, ResellerFromUpstream, r.Source)
	}
	if r.Region != "" && !isDigits(r.Region) {
		bad("reseller.region", "want a numeric region id, got %q", r.Region)
	}
	if c.Dialect == DialectGlance && r.File != "" && r.Region == "" {
		bad("reseller.region", "required with dialect glance and reseller.file: limits are per region and Glance paths name none")
	}
	if r.CacheTTL < 0 {
		bad("reseller.cache_ttl", "must not be negative")
	}
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Warnings lists settings that are valid but unsafe, for the start-up log.
func (c *Config) Warnings() []string {
	var w []string
	if c.Upstream.TLS.InsecureSkipVerify {
		w = append(w, "upstream.tls.insecure_skip_verify is on: the upstream's certificate is not checked")
	}
	if c.Policy.DryRun {
		w = append(w, "policy.dry_run is on: denied requests are forwarded all the same")
	}
	if c.Policy.Bundle.URL != "" && c.Policy.Bundle.PublicKeyFile == "" {
		w = append(w, "policy.bundle.public_key_file is empty: bundles are not verified")
	}
	if c.Upstream.ForwardToken {
		w = append(w, "upstream.forward_token is on: callers' tokens reach the upstream")
	}
	if host, _, err := net.SplitHostPort(c.AdminListen); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		w = append(w, "admin_listen binds every interface: /metrics and /readyz are reachable from outside")
	}
	return w
}
