// Command soak prepares and serves what tests/soak.sh runs imagegate against: the
// in-memory image API (seeded with the demo images plus one image per extra tenant), a
// signing key, an imagegate configuration, and tokens for many tenants. It writes them
// into a directory and serves the image API until it is signalled.
//
//	go run ./tests/soak DIR TENANTS
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.yaml.in/yaml/v3"

	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/imageapi"
)

const issuer = "https://soak.imagegate.invalid"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) != 3 {
		return fmt.Errorf("usage: soak DIR TENANTS")
	}
	dir := os.Args[1]
	tenants, err := strconv.Atoi(os.Args[2])
	if err != nil || tenants < 1 {
		return fmt.Errorf("TENANTS: want a positive number, got %q", os.Args[2])
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	api := imageapi.New(imageapi.Options{Mode: imageapi.Enforcing, RequestLogSize: -1})
	if err := api.Seed(imageapi.DemoFixture()); err != nil {
		return err
	}
	// One private and one shared image per extra tenant, the shared one shared with the
	// next tenant (accepted), so that lists need memberships and filtering.
	var seeds []imageapi.SeedImage
	for i := 0; i < tenants; i++ {
		t, next := tenantName(i), tenantName((i+1)%tenants)
		seeds = append(seeds,
			imageapi.SeedImage{Image: imageapi.Image{ID: imageID(i, 1), Name: t + "-private", Owner: t, Visibility: "private",
				ContainerFormat: "bare", DiskFormat: "raw"}, Data: []byte("data of " + t)},
			imageapi.SeedImage{Image: imageapi.Image{ID: imageID(i, 2), Name: t + "-shared", Owner: t, Visibility: "shared",
				ContainerFormat: "bare", DiskFormat: "raw"}, Members: []imageapi.SeedMember{{Tenant: next, Status: "accepted"}}},
		)
	}
	if err := api.SeedImages(seeds...); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()

	signer, err := authn.NewRSASigner("soak-1")
	if err != nil {
		return err
	}
	jwks, err := signer.PublicJWKS()
	if err != nil {
		return err
	}
	keyPath := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(keyPath, jwks, 0o600); err != nil {
		return err
	}

	cfg := config.Default()
	cfg.Listen, cfg.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Upstream.URL = "http://" + ln.Addr().String()
	cfg.Audit.Sink, cfg.Audit.File = "file", filepath.Join(dir, "decisions.jsonl")
	cfg.Log.Level = "info"
	cfg.Auth.Issuers = []authn.IssuerConfig{{
		Issuer: issuer, Audience: []string{"imagegate"}, Algorithms: []string{"RS256"},
		KeyFiles: []authn.KeyFile{{Path: keyPath}},
		Claims:   authn.ClaimsConfig{User: "sub", Tenant: "project_id", Roles: "roles"},
	}}
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "imagegate.yaml"), raw, 0o600); err != nil {
		return err
	}

	// tokens.txt: "tenant token own-private-id own-shared-id foreign-private-id" per line.
	var lines []string
	roles := [][]string{{"member"}, {"reader"}, {"cloudImages:creator"}, {"cloudImages:observer"}}
	for i := 0; i < tenants; i++ {
		t := tenantName(i)
		tok, err := signer.Sign(jwt.MapClaims{
			"iss": issuer, "aud": "imagegate", "sub": "user-" + t, "project_id": t, "roles": roles[i%len(roles)],
			"iat": time.Now().Unix(), "nbf": time.Now().Unix(), "exp": time.Now().Add(24 * time.Hour).Unix(),
		})
		if err != nil {
			return err
		}
		lines = append(lines, strings.Join([]string{t, tok, imageID(i, 1), imageID(i, 2), imageID((i+1)%tenants, 1)}, " "))
	}
	if err := os.WriteFile(filepath.Join(dir, "tokens.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ready"), []byte(cfg.Upstream.URL+"\n"), 0o600); err != nil {
		return err
	}
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

func tenantName(i int) string { return strconv.Itoa(10000 + i) }

func imageID(tenant, n int) string {
	return fmt.Sprintf("%08d-0000-4000-8000-%012d", 10000+tenant, n)
}
