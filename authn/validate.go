package authn

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// fieldPrefix is where this configuration lives in the imagegate
// configuration file; errors name fields with it so that operators can find
// them.
const fieldPrefix = "auth"

// Validate checks the configuration without touching the file system or the
// network, and returns every problem found (joined), each naming the
// offending field, e.g.
//
//	auth.issuers[0].algorithms: unknown algorithm "HS999"
//
// Checks that need the key material (a key file whose key fits none of the
// algorithms, a short HMAC secret) are made by [New].
func (c *Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", fieldPrefix, field, fmt.Sprintf(format, args...)))
	}

	if c.MaxTokenBytes < 0 || (c.MaxTokenBytes > 0 && c.MaxTokenBytes < minMaxTokenBytes) {
		add("max_token_bytes", "%d is below the minimum of %d (0 means the default %d)", c.MaxTokenBytes, minMaxTokenBytes, DefaultMaxTokenBytes)
	}
	if c.Leeway < 0 {
		add("leeway", "must not be negative, got %s", c.Leeway)
	}
	if c.Cache.MaxEntries < 0 {
		add("cache.max_entries", "must not be negative (0 disables the cache), got %d", c.Cache.MaxEntries)
	}
	if c.Cache.TTL < 0 {
		add("cache.ttl", "must not be negative, got %s", c.Cache.TTL)
	}
	if len(c.Issuers) == 0 {
		add("issuers", "at least one issuer is required")
	}

	seen := make(map[string]int, len(c.Issuers))
	for i := range c.Issuers {
		ic := &c.Issuers[i]
		field := fmt.Sprintf("issuers[%d]", i)
		if ic.Issuer != "" {
			if j, dup := seen[ic.Issuer]; dup {
				add(field+".issuer", "%q is also issuers[%d]; issuers must be unique", ic.Issuer, j)
			} else {
				seen[ic.Issuer] = i
			}
		}
		for _, e := range ic.validate() {
			add(field+"."+e.field, "%s", e.msg)
		}
	}
	return errors.Join(errs...)
}

// fieldError is one problem with a field of an IssuerConfig.
type fieldError struct{ field, msg string }

// validate checks one issuer; field names are relative to the issuer.
func (ic *IssuerConfig) validate() []fieldError {
	var errs []fieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, fieldError{field, fmt.Sprintf(format, args...)})
	}

	if strings.TrimSpace(ic.Issuer) == "" {
		add("issuer", "required")
	}
	if len(ic.Audience) == 0 && !ic.AllowAnyAudience {
		add("audience", "at least one audience is required (or set allow_any_audience: true, which is unsafe)")
	}
	for j, a := range ic.Audience {
		if a == "" {
			add(fmt.Sprintf("audience[%d]", j), "must not be empty")
		}
	}

	// Algorithms: known, and either all HMAC or all asymmetric.
	hasHMAC, hasAsym := false, false
	if len(ic.Algorithms) == 0 {
		add("algorithms", "at least one algorithm is required")
	}
	for _, name := range ic.Algorithms {
		spec, ok := lookupAlg(name)
		if !ok {
			add("algorithms", "unknown algorithm %q (allowed: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, HS256, HS384, HS512)", name)
			continue
		}
		if spec.kind == kindHMAC {
			hasHMAC = true
		} else {
			hasAsym = true
		}
	}
	if hasHMAC && hasAsym {
		// Mixing is how algorithm-confusion attacks start: refuse it outright.
		add("algorithms", "HS* algorithms cannot be mixed with asymmetric ones")
	}

	remote := ic.JWKSURL != "" || ic.OIDCDiscovery
	switch {
	case ic.HMACSecretFile != "" && (remote || len(ic.KeyFiles) > 0):
		add("hmac_secret_file", "cannot be combined with key_files, jwks_url or oidc_discovery")
	case ic.HMACSecretFile != "" && hasAsym:
		add("hmac_secret_file", "requires HS* algorithms only")
	case ic.HMACSecretFile == "" && hasHMAC:
		add("algorithms", "HS* algorithms require hmac_secret_file")
	case ic.HMACSecretFile == "" && !remote && len(ic.KeyFiles) == 0:
		add("issuer", "no key source: set key_files, jwks_url, oidc_discovery or hmac_secret_file")
	}
	for j, kf := range ic.KeyFiles {
		if strings.TrimSpace(kf.Path) == "" {
			add(fmt.Sprintf("key_files[%d].path", j), "required")
		}
	}

	if ic.JWKSURL != "" {
		if ic.OIDCDiscovery {
			add("jwks_url", "set either jwks_url or oidc_discovery, not both")
		}
		if err := checkFetchURL(ic.JWKSURL); err != nil {
			add("jwks_url", "%v", err)
		}
	}
	if ic.OIDCDiscovery && ic.Issuer != "" {
		if err := checkFetchURL(ic.Issuer); err != nil {
			add("issuer", "oidc_discovery needs the issuer to be a URL: %v", err)
		}
	}
	if ic.MinRefreshInterval < 0 {
		add("min_refresh_interval", "must not be negative, got %s", ic.MinRefreshInterval)
	}
	if ic.RefreshInterval < 0 {
		add("refresh_interval", "must not be negative, got %s", ic.RefreshInterval)
	}
	if ic.RefreshInterval > 0 && !remote {
		add("refresh_interval", "needs jwks_url or oidc_discovery")
	}

	for _, p := range []struct{ field, path string }{
		{"claims.user", ic.Claims.User},
		{"claims.tenant", ic.Claims.Tenant},
		{"claims.roles", ic.Claims.Roles},
		{"claims.reseller", ic.Claims.Reseller},
	} {
		if p.path != "" {
			if err := checkClaimPath(p.path); err != nil {
				add(p.field, "%v", err)
			}
		}
	}
	for j, p := range ic.RequiredClaims {
		if err := checkClaimPath(p); err != nil {
			add(fmt.Sprintf("required_claims[%d]", j), "%v", err)
		}
	}
	return errs
}

// checkFetchURL accepts https URLs, and http URLs only on a loopback host:
// keys fetched over plain http can be replaced by anyone on the path, which
// would let them mint tokens.
func checkFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("invalid URL %q: %w", raw, err)
	}
	if u.Host == "" {
		return fmt.Errorf("URL %q has no host", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("URL %q uses plain http, which is only allowed for localhost/127.0.0.1 (keys fetched over http can be forged)", raw)
	default:
		return fmt.Errorf("URL %q must use https", raw)
	}
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkClaimPath rejects claim paths with empty segments ("a..b", ".a").
func checkClaimPath(p string) error {
	if p == "" {
		return errors.New("must not be empty")
	}
	for _, seg := range strings.Split(p, ".") {
		if seg == "" {
			return fmt.Errorf("claim path %q has an empty segment", p)
		}
	}
	return nil
}
