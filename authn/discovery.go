package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/coreos/go-oidc/v3/oidc"
)

// discoverJWKSURL reads the issuer's OpenID Connect discovery document with
// go-oidc (which also insists that the document's issuer equals ours) and
// returns its jwks_uri.
//
// Only discovery is delegated to go-oidc. The keys are then managed by
// remoteKeys and tokens verified by the same jwt/v5 pipeline as for jwks_url,
// because go-oidc's RemoteKeySet re-fetches the JWKS for every unknown kid
// (no minimum interval, so a flood of made-up kids becomes a flood of fetches)
// and its verifier applies a fixed 5-minute nbf skew and no iat check instead
// of the configured leeway.
func discoverJWKSURL(ctx context.Context, client *http.Client, issuer string) (string, error) {
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), issuer)
	if err != nil {
		return "", fmt.Errorf("OIDC discovery: %w", err)
	}
	var meta struct {
		JWKSURL string `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil {
		return "", fmt.Errorf("OIDC discovery document: %w", err)
	}
	if meta.JWKSURL == "" {
		return "", errors.New("OIDC discovery document has no jwks_uri")
	}
	if err := checkFetchURL(meta.JWKSURL); err != nil {
		return "", fmt.Errorf("OIDC discovery document: jwks_uri: %w", err)
	}
	return meta.JWKSURL, nil
}
