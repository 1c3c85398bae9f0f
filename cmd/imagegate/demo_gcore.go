package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/imageapi"
	"github.com/imagegate/imagegate/server"
)

// The demo's second proxy: the Gcore-style v1 dialect, in front of an in-memory v1 API
// seeded with two resellers (imageapi.GcoreDemoFixture), reseller limits read from the
// upstream.

// gcorePersona is a sample caller of the v1 demo.
type gcorePersona struct {
	name, project, client, reseller string
	roles                           []string
	about                           string
}

func gcorePersonas() []gcorePersona {
	return []gcorePersona{
		{"blue-client", imageapi.GcoreProjectBlueA, "11", imageapi.GcoreResellerBlue, []string{"member"}, "client of reseller Blue (1001), project " + imageapi.GcoreProjectBlueA},
		{"blue-client-b", imageapi.GcoreProjectBlueB, "12", imageapi.GcoreResellerBlue, []string{"client_admin"}, "another client of Blue, project " + imageapi.GcoreProjectBlueB},
		{"blue-admin", imageapi.GcoreProjectBlueA, "11", imageapi.GcoreResellerBlue, []string{"reseller_admin"}, "admin of reseller Blue"},
		{"green-client", imageapi.GcoreProjectGreen, "21", imageapi.GcoreResellerGreen, []string{"member"}, "client of reseller Green (2002), project " + imageapi.GcoreProjectGreen},
		{"indie-client", imageapi.GcoreProjectIndie, "31", "", []string{"reader"}, "client of no reseller, project " + imageapi.GcoreProjectIndie},
		{"cloud-admin", imageapi.GcoreProjectAdmin, "1", "", []string{"admin"}, "cloud admin"},
	}
}

// gcoreRoleMap sends the v1 roles to the in-memory v1 API in delegated mode.
func gcoreRoleMap() map[string][]string {
	return map[string][]string{
		"admin":          {"admin"},
		"reseller_admin": {"reseller_admin"},
		"client_admin":   {"member"},
		"member":         {"member"},
		"reader":         {"reader"},
		"observer":       {"reader"},
	}
}

// mintGcoreTokens adds the v1 personas' tokens to tokens.
func mintGcoreTokens(signer *authn.Signer, ttl time.Duration, tokens map[string]string) error {
	now := time.Now()
	for _, p := range gcorePersonas() {
		claims := jwt.MapClaims{
			"iss": demoIssuer, "aud": demoAudience, "sub": p.name, "project_id": p.project,
			"client_id": p.client, "roles": p.roles,
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix(),
		}
		if p.reseller != "" {
			claims["reseller_id"] = p.reseller
		}
		tok, err := signer.Sign(claims)
		if err != nil {
			return fmt.Errorf("sign the %s token: %w", p.name, err)
		}
		tokens[p.name] = tok
	}
	return nil
}

// startGcoreDemo serves the v1 API on a loopback port and builds the v1 proxy from base
// (the Glance demo's configuration) listening on listen; run serves it until ctx ends.
func startGcoreDemo(ctx context.Context, base config.Config, listen string, log *slog.Logger) (run func(ready func(proxyAddr net.Addr)) error, stop func(), err error) {
	apiMode := imageapi.Enforcing
	if base.Upstream.Mode == config.ModeService {
		apiMode = imageapi.Naive
	}
	api := imageapi.NewGcore(imageapi.Options{Mode: apiMode})
	if err := api.SeedGcore(imageapi.GcoreDemoFixture()); err != nil {
		return nil, nil, fmt.Errorf("seed the v1 image API: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("v1 image API listener: %w", err)
	}
	upstream := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = upstream.Serve(ln) }()

	cfg := base
	cfg.Dialect = config.DialectGcore
	cfg.Listen, cfg.AdminListen = listen, "127.0.0.1:0"
	cfg.Upstream.URL = "http://" + ln.Addr().String()
	cfg.Upstream.RoleMap = gcoreRoleMap()
	cfg.Reseller = config.Reseller{Source: config.ResellerFromUpstream, CacheTTL: config.Duration(30 * time.Second)}
	issuers := make([]authn.IssuerConfig, len(base.Auth.Issuers))
	copy(issuers, base.Auth.Issuers)
	for i := range issuers {
		issuers[i].Claims.Reseller, issuers[i].Claims.Client = "reseller_id", "client_id"
	}
	cfg.Auth.Issuers = issuers
	if err := cfg.Validate(); err != nil {
		upstream.Close()
		return nil, nil, err
	}
	srv, err := server.New(ctx, cfg, server.Options{Log: log.With("dialect", config.DialectGcore)})
	if err != nil {
		upstream.Close()
		return nil, nil, err
	}
	run = func(ready func(net.Addr)) error {
		return srv.Run(ctx, func(proxyAddr, _ net.Addr) { ready(proxyAddr) })
	}
	return run, func() { upstream.Close() }, nil
}

func printGcoreDemoHelp(w io.Writer, proxyAddr, tokensFile, mode string) {
	fmt.Fprintf(w, "\nGcore-style v1 dialect: proxy on http://%s, in front of an in-memory v1 API (%s mode) with two resellers\n", proxyAddr, mode)
	for _, p := range gcorePersonas() {
		fmt.Fprintf(w, "  %-13s %-18s %s\n", p.name, fmt.Sprint(p.roles), p.about)
	}
	tok := func(name string) string { return fmt.Sprintf(`$(jq -r '."%s"' %s)`, name, tokensFile) }
	base := "http://" + proxyAddr
	fmt.Fprintf(w, `
Try:
  # Blue limits its clients to ubuntu and debian in region 1 and shares blue-golden with them
  curl -s -H "X-Auth-Token: %[2]s" %[1]s/v1/images/%[3]s/1 | jq '{count, names: [.results[].name]}'
  # a client of no reseller sees every public image
  curl -s -H "X-Auth-Token: %[4]s" %[1]s/v1/images/%[5]s/1 | jq '{count, names: [.results[].name]}'
  # windows is in Green's catalogue, not Blue's: 404 for Blue's client
  curl -s -H "X-Auth-Token: %[2]s" %[1]s/v1/images/%[3]s/1/%[6]s
  # Blue's admin may not change Green's limits (403; the endpoint is deprecated: see the Deprecation header)
  curl -si -X PUT -H "X-Auth-Token: %[7]s" -H 'Content-Type: application/json' \
       -d '{"reseller_id": 2002, "region_id": 1, "image_ids": []}' %[1]s/v1/reseller_image
  # the cloud admin widens Blue's catalogue; Blue's client sees fedora at once
  curl -s -X PUT -H "X-Auth-Token: %[8]s" -H 'Content-Type: application/json' \
       -d '{"reseller_id": 1001, "region_id": 1, "image_ids": ["%[9]s", "%[10]s", "%[11]s"]}' %[1]s/v1/reseller_image
`, base, tok("blue-client"), imageapi.GcoreProjectBlueA, tok("indie-client"), imageapi.GcoreProjectIndie,
		imageapi.GcoreImageWindows, tok("blue-admin"), tok("cloud-admin"),
		imageapi.GcoreImageUbuntu, imageapi.GcoreImageDebian, imageapi.GcoreImageFedora)
}
