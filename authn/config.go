package authn

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults applied when a field is left at its zero value.
const (
	// DefaultMaxTokenBytes is used when max_token_bytes is 0.
	DefaultMaxTokenBytes = 8192
	// DefaultMinRefreshInterval is used when min_refresh_interval is 0. It
	// bounds how often unknown kids can make us fetch the JWKS.
	DefaultMinRefreshInterval = time.Minute
	// DefaultUserClaim is used when claims.user is empty.
	DefaultUserClaim = "sub"
	// DefaultTenantClaim is used when claims.tenant is empty.
	DefaultTenantClaim = "project_id"
	// DefaultRolesClaim is used when claims.roles is empty.
	DefaultRolesClaim = "roles"
)

// minMaxTokenBytes is the smallest accepted max_token_bytes: below it, no
// realistic signed JWT fits.
const minMaxTokenBytes = 256

// Config is the authentication configuration (the "auth" section of the
// imagegate configuration). Strict decoding (unknown fields) is the caller's
// business; call [Config.Validate] (New does) before use.
type Config struct {
	// MaxTokenBytes is the longest token accepted; longer tokens are refused
	// before any decoding. 0 means DefaultMaxTokenBytes; otherwise at least 256.
	MaxTokenBytes int `yaml:"max_token_bytes"`
	// Leeway is the clock skew tolerated when checking exp, nbf and iat.
	// 0 means none.
	Leeway Duration `yaml:"leeway"`
	// Cache configures the verified-token cache.
	Cache CacheConfig `yaml:"cache"`
	// Issuers are the trusted token issuers; a token is matched to one by its
	// iss claim.
	Issuers []IssuerConfig `yaml:"issuers"`
}

// CacheConfig configures the verified-token cache, which lets a token that was
// verified once skip signature verification until it expires.
type CacheConfig struct {
	// MaxEntries bounds the number of cached tokens; 0 disables the cache.
	MaxEntries int `yaml:"max_entries"`
	// TTL, when positive, bounds how long a verified token is served from the
	// cache (it is never served past its exp). It limits how long a token
	// signed by a key just removed from the JWKS keeps working without being
	// re-verified. 0 means "until exp".
	TTL Duration `yaml:"ttl"`
}

// IssuerConfig is one trusted token issuer.
type IssuerConfig struct {
	// Issuer is the exact value of the iss claim of this issuer's tokens and,
	// with OIDCDiscovery, the URL discovery starts from. Required, unique.
	Issuer string `yaml:"issuer"`
	// Audience lists the accepted aud values; a token must name at least one.
	// Required unless AllowAnyAudience.
	Audience []string `yaml:"audience"`
	// AllowAnyAudience disables the audience check. Unsafe: any token of this
	// issuer, including ones minted for other services, is accepted.
	AllowAnyAudience bool `yaml:"allow_any_audience"`
	// Algorithms pins the accepted alg values: RS256/384/512, PS256/384/512,
	// ES256/384/512, EdDSA, or (only with HMACSecretFile, and then only)
	// HS256/384/512.
	Algorithms []string `yaml:"algorithms"`
	// KeyFiles are local public keys: PEM (PKIX public key, PKCS#1 RSA public
	// key, or certificate) or JSON (a JWK or a JWK Set).
	KeyFiles []KeyFile `yaml:"key_files"`
	// JWKSURL is a JWK Set URL (https, or http on a loopback host only).
	JWKSURL string `yaml:"jwks_url"`
	// MinRefreshInterval is the minimum time between two JWKS fetches caused
	// by unknown kids. 0 means DefaultMinRefreshInterval.
	MinRefreshInterval Duration `yaml:"min_refresh_interval"`
	// RefreshInterval, when positive, refreshes the JWKS in the background.
	RefreshInterval Duration `yaml:"refresh_interval"`
	// OIDCDiscovery finds the JWKS URL in the issuer's
	// /.well-known/openid-configuration document.
	OIDCDiscovery bool `yaml:"oidc_discovery"`
	// HMACSecretFile holds the shared secret (at least 32 bytes; trailing
	// newlines are ignored) for HS* algorithms.
	HMACSecretFile string `yaml:"hmac_secret_file"`
	// Claims maps token claims to Principal fields.
	Claims ClaimsConfig `yaml:"claims"`
	// RequiredClaims are further claims (paths as in Claims) that must be
	// present and non-null.
	RequiredClaims []string `yaml:"required_claims"`
}

// ClaimsConfig names the claims that make up a [Principal]. A name is a claim
// of the token or a dotted path into nested objects ("project.id",
// "realm_access.roles"); a top-level claim whose name contains dots (such as
// "https://idp.example/tenant") is used as is when present.
type ClaimsConfig struct {
	// User is the user claim (required in tokens). Default "sub".
	User string `yaml:"user"`
	// Tenant is the tenant/project claim (required in tokens). Default
	// "project_id".
	Tenant string `yaml:"tenant"`
	// Roles is the roles claim: an array of strings or a comma/space
	// separated string. Optional in tokens. Default "roles".
	Roles string `yaml:"roles"`
	// Reseller is the reseller claim; optional in tokens. Empty: not mapped.
	Reseller string `yaml:"reseller"`
	// Client is the client (customer account) claim of the Gcore-style dialect, whose
	// projects belong to one client; optional in tokens. Empty: not mapped.
	Client string `yaml:"client"`
}

// KeyFile is a local key file. In YAML it is either a path or a mapping
// {path: ..., kid: ...}; kid names the key(s) of a PEM file, and overrides
// the kid of a JWK file.
type KeyFile struct {
	// Path of the file; relative paths are resolved against the base
	// directory (see WithBaseDir), else the working directory.
	Path string `yaml:"path"`
	// KID is the key id tokens signed by this key carry. A key without kid
	// is tried for tokens whose kid matches no key and for tokens without kid.
	KID string `yaml:"kid"`
}

// UnmarshalYAML accepts a plain path or a {path, kid} mapping. Unknown keys
// in the mapping are errors (yaml's KnownFields does not reach custom
// unmarshalers).
func (k *KeyFile) UnmarshalYAML(node *yaml.Node) error {
	switch node.Kind {
	case yaml.ScalarNode:
		*k = KeyFile{Path: node.Value}
		return nil
	case yaml.MappingNode:
		var out KeyFile
		for i := 0; i+1 < len(node.Content); i += 2 {
			key, val := node.Content[i], node.Content[i+1]
			if val.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: key_files.%s must be a string", val.Line, key.Value)
			}
			switch key.Value {
			case "path":
				out.Path = val.Value
			case "kid":
				out.KID = val.Value
			default:
				return fmt.Errorf("line %d: field %s not found in key file (want path, kid)", key.Line, key.Value)
			}
		}
		*k = out
		return nil
	default:
		return fmt.Errorf("line %d: a key file is a path or a {path, kid} mapping", node.Line)
	}
}

// DefaultConfig returns a configuration with the recommended defaults and no
// issuers. Decoding YAML into it keeps the defaults of absent fields.
func DefaultConfig() Config {
	return Config{
		MaxTokenBytes: DefaultMaxTokenBytes,
		Leeway:        Duration(30 * time.Second),
		Cache:         CacheConfig{MaxEntries: 10000, TTL: Duration(5 * time.Minute)},
	}
}

// withDefaults returns a copy of c with zero values replaced by defaults. It
// does not touch c, which belongs to the caller.
func (c Config) withDefaults() Config {
	if c.MaxTokenBytes == 0 {
		c.MaxTokenBytes = DefaultMaxTokenBytes
	}
	issuers := make([]IssuerConfig, len(c.Issuers))
	for i, ic := range c.Issuers {
		if ic.MinRefreshInterval == 0 {
			ic.MinRefreshInterval = Duration(DefaultMinRefreshInterval)
		}
		if ic.Claims.User == "" {
			ic.Claims.User = DefaultUserClaim
		}
		if ic.Claims.Tenant == "" {
			ic.Claims.Tenant = DefaultTenantClaim
		}
		if ic.Claims.Roles == "" {
			ic.Claims.Roles = DefaultRolesClaim
		}
		issuers[i] = ic
	}
	c.Issuers = issuers
	return c
}
