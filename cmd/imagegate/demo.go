package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/imageapi"
	"github.com/imagegate/imagegate/server"
)

// demoIssuer and demoAudience name the demo's token issuer; its key is made at start.
const (
	demoIssuer   = "https://demo.imagegate.invalid"
	demoAudience = "imagegate"
)

// persona is a sample caller of the demo.
type persona struct {
	name, tenant, user string
	roles              []string
	about              string
}

// demoPersonas cover both role vocabularies and the tenants of the demo images.
func demoPersonas() []persona {
	return []persona{
		{"alice", imageapi.DemoTenantA, "alice", []string{"member"}, "OpenStack member of project " + imageapi.DemoTenantA},
		{"bob", imageapi.DemoTenantB, "bob", []string{"member"}, "OpenStack member of project " + imageapi.DemoTenantB},
		{"carol", imageapi.DemoTenantC, "carol", []string{"reader"}, "OpenStack reader of project " + imageapi.DemoTenantC},
		{"observer", imageapi.DemoTenantA, "olga", []string{"cloudImages:observer"}, "Rackspace image observer in " + imageapi.DemoTenantA},
		{"creator", imageapi.DemoTenantB, "cris", []string{"cloudImages:creator"}, "Rackspace image creator in " + imageapi.DemoTenantB},
		{"operator", "admin", "root", []string{"admin"}, "cloud admin"},
	}
}

// demo runs the proxy in front of an in-memory image API with freshly minted tokens.
func demo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "proxy listener")
	adminListen := fs.String("admin-listen", "127.0.0.1:9090", "admin listener (/healthz, /readyz, /metrics)")
	tokensFile := fs.String("tokens-file", "demo-tokens.json", "where to write the sample tokens (JSON object name → token)")
	mode := fs.String("upstream-mode", config.ModeDelegated,
		"delegated: the image API enforces too, like real Glance; service: the image API enforces nothing and the proxy alone decides")
	auditFile := fs.String("audit-file", "", "write decision events to this file instead of stdout")
	ttl := fs.Duration("token-ttl", 12*time.Hour, "lifetime of the sample tokens")
	gcoreListen := fs.String("gcore-listen", "127.0.0.1:8081",
		"listener of a second proxy for the Gcore-style v1 dialect, in front of an in-memory v1 API with two resellers (empty: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *mode != config.ModeDelegated && *mode != config.ModeService {
		return fmt.Errorf("--upstream-mode: want %s or %s, got %q", config.ModeDelegated, config.ModeService, *mode)
	}

	// The image API, on a loopback port of its own.
	apiMode := imageapi.Enforcing
	if *mode == config.ModeService {
		apiMode = imageapi.Naive
	}
	api := imageapi.New(imageapi.Options{Mode: apiMode})
	if err := api.Seed(imageapi.DemoFixture()); err != nil {
		return fmt.Errorf("seed the image API: %w", err)
	}
	upstreamLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("image API listener: %w", err)
	}
	upstream := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = upstream.Serve(upstreamLn) }()
	defer upstream.Close()

	// A signing key made now, its public half in a JWKS file the proxy trusts.
	signer, err := authn.NewRSASigner("demo-1")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "imagegate-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	jwks, err := signer.PublicJWKS()
	if err != nil {
		return err
	}
	keyPath := filepath.Join(dir, "demo-jwks.json")
	if err := os.WriteFile(keyPath, jwks, 0o600); err != nil {
		return err
	}
	tokens, err := mintDemoTokens(signer, *ttl)
	if err != nil {
		return err
	}
	if *gcoreListen != "" {
		if err := mintGcoreTokens(signer, *ttl, tokens); err != nil {
			return err
		}
	}
	if err := writeTokens(*tokensFile, tokens); err != nil {
		return err
	}

	cfg := config.Default()
	cfg.Listen, cfg.AdminListen = *listen, *adminListen
	cfg.Upstream.URL = "http://" + upstreamLn.Addr().String()
	cfg.Upstream.Mode = *mode
	cfg.Log.Format = "text"
	cfg.Auth.Issuers = []authn.IssuerConfig{{
		Issuer:     demoIssuer,
		Audience:   []string{demoAudience},
		Algorithms: []string{signer.Algorithm()},
		KeyFiles:   []authn.KeyFile{{Path: keyPath}},
		Claims:     authn.ClaimsConfig{User: "sub", Tenant: "project_id", Roles: "roles"},
	}}
	if *auditFile != "" {
		cfg.Audit.Sink, cfg.Audit.File = "file", *auditFile
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	srv, err := server.New(ctx, cfg, server.Options{Log: log})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	helped := make(chan struct{})
	gcoreDone := make(chan error, 1)
	if *gcoreListen != "" {
		runGcore, stopGcore, err := startGcoreDemo(ctx, cfg, *gcoreListen, log)
		if err != nil {
			return fmt.Errorf("--gcore-listen: %w", err)
		}
		defer stopGcore()
		go func() {
			err := runGcore(func(addr net.Addr) {
				select {
				case <-helped:
					printGcoreDemoHelp(stdout, addr.String(), *tokensFile, *mode)
				case <-ctx.Done():
				}
			})
			if err != nil {
				cancel() // the demo is both proxies or none
			}
			gcoreDone <- err
		}()
	} else {
		gcoreDone <- nil
	}
	err = srv.Run(ctx, func(proxyAddr, adminAddr net.Addr) {
		printDemoHelp(stdout, proxyAddr.String(), adminAddr.String(), *tokensFile, *mode)
		close(helped)
	})
	cancel()
	if gerr := <-gcoreDone; gerr != nil && !errors.Is(gerr, context.Canceled) {
		err = errors.Join(err, fmt.Errorf("gcore proxy: %w", gerr))
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func mintDemoTokens(signer *authn.Signer, ttl time.Duration) (map[string]string, error) {
	now := time.Now()
	tokens := make(map[string]string, len(demoPersonas()))
	for _, p := range demoPersonas() {
		tok, err := signer.Sign(jwt.MapClaims{
			"iss":        demoIssuer,
			"aud":        demoAudience,
			"sub":        p.user,
			"project_id": p.tenant,
			"roles":      p.roles,
			"iat":        now.Unix(),
			"nbf":        now.Unix(),
			"exp":        now.Add(ttl).Unix(),
		})
		if err != nil {
			return nil, fmt.Errorf("sign the %s token: %w", p.name, err)
		}
		tokens[p.name] = tok
	}
	return tokens, nil
}

func writeTokens(path string, tokens map[string]string) error {
	b, err := json.MarshalIndent(tokens, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("--tokens-file: %w", err)
	}
	return nil
}

func printDemoHelp(w io.Writer, proxyAddr, adminAddr, tokensFile, mode string) {
	fmt.Fprintf(w, "imagegate demo: proxy on http://%s (admin http://%s), in front of an in-memory Glance v2 API (%s mode)\n\n", proxyAddr, adminAddr, mode)
	fmt.Fprintf(w, "Sample tokens are in %s:\n", tokensFile)
	for _, p := range demoPersonas() {
		fmt.Fprintf(w, "  %-9s %-22s %s\n", p.name, fmt.Sprint(p.roles), p.about)
	}
	tok := func(name string) string {
		return fmt.Sprintf(`$(jq -r .%s %s)`, name, tokensFile)
	}
	base := "http://" + proxyAddr
	fmt.Fprintf(w, `
Try (needs curl and jq):
  # alice lists what project %[3]s may see: its own, public, and shared images it accepted
  curl -s -H "X-Auth-Token: %[4]s" %[1]s/v2/images | jq '.images[] | {name, owner, visibility}'
  # bob may not see alice's private image: 404, as if it did not exist
  curl -s -H "X-Auth-Token: %[5]s" %[1]s/v2/images/%[6]s
  # carol is a reader: she may read but not create (403 with the reason)
  curl -s -X POST -H "X-Auth-Token: %[7]s" -H 'Content-Type: application/json' -d '{"name":"x"}' %[1]s/v2/images
  # a spoofed identity header is stripped, and a bad token is refused with its reason
  curl -s -H "X-Roles: admin" -H "X-Auth-Token: not-a-jwt" %[1]s/v2/images
  # metrics and readiness
  curl -s http://%[2]s/metrics | grep imagegate_requests_total

Decision events are written as JSON lines (stdout unless --audit-file). Ctrl-C stops.
`, base, adminAddr, imageapi.DemoTenantA, tok("alice"), tok("bob"), imageapi.DemoPrivateImageA, tok("carol"))
}
