// Command sidecarhop is the architecture imagegate is compared with: a Go hop that
// verifies the RS256 token of every request (no cache), asks an `opa run --server`
// sidecar over REST whether the caller's roles grant the operation, and forwards with
// httputil.ReverseProxy (the same defaults as barehop).
//
// It asks OPA the shipped role policy (data.imagegate.roles.allowed) only: it has no
// image lookups, so neither visibility nor list filtering, and it writes no decision
// log. It does less than imagegate, which makes ratios against it conservative.
package main

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

type hop struct {
	key      *rsa.PublicKey
	issuer   string
	audience string
	opaURL   string
	opa      *http.Client
	forward  http.Handler
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on (loopback)")
	upstream := flag.String("upstream", "", "upstream base URL")
	opa := flag.String("opa", "", "OPA base URL, e.g. http://127.0.0.1:8181")
	pubkey := flag.String("pubkey", "", "PEM public key of the token issuer")
	issuer := flag.String("issuer", "", "expected iss")
	audience := flag.String("audience", "", "expected aud")
	flag.Parse()
	u, err := url.Parse(*upstream)
	if err != nil || u.Host == "" {
		log.Fatalf("-upstream %q: %v", *upstream, err)
	}
	pem, err := os.ReadFile(*pubkey)
	if err != nil {
		log.Fatal(err)
	}
	key, err := jwt.ParseRSAPublicKeyFromPEM(pem)
	if err != nil {
		log.Fatal(err)
	}
	// The sidecar client keeps its connections: a hop that dialled OPA for every
	// request would be a strawman.
	opaTransport := http.DefaultTransport.(*http.Transport).Clone()
	opaTransport.MaxIdleConns, opaTransport.MaxIdleConnsPerHost = 1024, 1024
	h := &hop{
		key: key, issuer: *issuer, audience: *audience,
		opaURL:  strings.TrimSuffix(*opa, "/") + "/v1/data/imagegate/roles/allowed",
		opa:     &http.Client{Transport: opaTransport, Timeout: 5 * time.Second},
		forward: httputil.NewSingleHostReverseProxy(u),
	}
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

func (h *hop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := operation(r.Method, r.URL.Path)
	if op == "" {
		http.Error(w, `{"error": "unknown operation"}`, http.StatusNotFound)
		return
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(r.Header.Get("X-Auth-Token"), claims, func(*jwt.Token) (any, error) { return h.key, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(h.issuer), jwt.WithAudience(h.audience),
		jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second))
	if err != nil {
		http.Error(w, `{"error": "invalid token"}`, http.StatusUnauthorized)
		return
	}
	allowed, err := h.ask(op, claims)
	if err != nil {
		log.Printf("opa: %v", err)
		http.Error(w, `{"error": "policy error"}`, http.StatusInternalServerError)
		return
	}
	if !allowed {
		http.Error(w, `{"error": "forbidden"}`, http.StatusForbidden)
		return
	}
	r.Header.Del("X-Auth-Token")
	h.forward.ServeHTTP(w, r)
}

// ask posts the input to OPA's Data API.
func (h *hop) ask(op string, claims jwt.MapClaims) (bool, error) {
	in := map[string]any{"input": map[string]any{
		"version":   1,
		"operation": map[string]any{"dialect": "glance", "name": op},
		"principal": map[string]any{"tenant": claims["project_id"], "roles": claims["roles"]},
	}}
	body, err := json.Marshal(in)
	if err != nil {
		return false, err
	}
	resp, err := h.opa.Post(h.opaURL, "application/json", bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("OPA answered %d: %s", resp.StatusCode, raw)
	}
	var out struct {
		Result *bool `json:"result"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return false, err
	}
	if out.Result == nil {
		return false, errors.New("decision undefined")
	}
	return *out.Result, nil
}

// operation names the four operations of the benchmark's workloads.
func operation(method, path string) string {
	rest, ok := strings.CutPrefix(path, "/v2/images")
	if !ok {
		return ""
	}
	parts := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	switch {
	case method == http.MethodGet && rest == "":
		return "images.list"
	case method == http.MethodGet && len(parts) == 1 && parts[0] != "":
		return "images.get"
	case method == http.MethodGet && len(parts) == 2 && parts[1] == "file":
		return "images.download"
	case method == http.MethodPut && len(parts) == 3 && parts[1] == "members":
		return "members.update"
	}
	return ""
}
