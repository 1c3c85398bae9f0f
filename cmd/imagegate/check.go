package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/enrich"
	"github.com/imagegate/imagegate/policies"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/proxy"
	"github.com/imagegate/imagegate/route"
)

// Exit statuses of `imagegate check`.
const (
	checkAllow = 0
	checkDeny  = 1
	// checkError: bad flags or input files, a policy that does not load or cannot decide.
	checkError = 2
)

// Stages of the request path a check can end at: the first three refuse before the
// policy runs, as the proxy does.
const (
	stageRoute  = "route"
	stageAuthn  = "authn"
	stageBody   = "body"
	stagePolicy = "policy"
)

// checkIssuer is the issuer of --claims when the configuration names none (no --config).
const checkIssuer = "https://check.imagegate.invalid"

// checkOptions are the flags of `imagegate check`.
type checkOptions struct {
	configPath string
	policyDir  string
	dialect    string
	mode       string
	method     string
	path       string
	claims     string
	token      string
	body       string
	image      string
	membership string
	reseller   string
	format     string
	explain    explainFlag
}

// explainFlag is --explain: alone it asks for the full trace, --explain=MODE for a part
// of it, as `opa eval --explain` does.
type explainFlag string

func (e *explainFlag) String() string { return string(*e) }

func (e *explainFlag) Set(v string) error {
	switch v {
	case "true":
		v = "full"
	case "false":
		v = ""
	}
	switch v {
	case "", "full", "fails", "notes":
		*e = explainFlag(v)
		return nil
	}
	return fmt.Errorf("want full, fails or notes, got %q", v)
}

// IsBoolFlag lets --explain stand alone.
func (e *explainFlag) IsBoolFlag() bool { return true }

// checkReport is what `imagegate check` found: the decision, where it was made, and what
// the policy saw. --format json prints it as is.
type checkReport struct {
	// Stage is the step of the request path that decided: route, authn, body or policy.
	Stage    string          `json:"stage"`
	Decision policy.Decision `json:"decision"`
	// Policy and Revision name the policy set that decided (stage policy).
	Policy   string `json:"policy,omitempty"`
	Revision string `json:"revision,omitempty"`
	// Operation is what the router made of the method and path.
	Operation *route.Operation `json:"operation,omitempty"`
	// Input is the policy input document, exactly as the policy saw it.
	Input any `json:"input,omitempty"`
	// Rules are the rules of the policy that evaluated true while deciding.
	Rules []firedRule `json:"rules,omitempty"`
	// Explanation is OPA's trace when --explain asks for it.
	Explanation []string `json:"explanation,omitempty"`
	// Notes say what the offline check assumed.
	Notes []string `json:"notes,omitempty"`

	// For the text report.
	method, target, dialect, mode string
	principal                     *authn.Principal
	image                         map[string]any
	membership                    *policy.Membership
}

// checkUsage is printed by `imagegate check -h`.
const checkUsage = `Usage: imagegate check [flags]

Decides one request offline with the configured policies, as the proxy would, and
explains the decision: its reasons, and the policy rules that produced them.
Exit status: 0 allowed, 1 denied, 2 bad flags or input, or a policy that cannot decide.

Examples:
  imagegate check --method GET --path /v2/images/IMG \
      --claims '{"sub":"u1","project_id":"p1","roles":["reader"]}' \
      --image '{"id":"IMG","owner":"p2","visibility":"private"}'
  imagegate check --config imagegate.yaml --method PATCH --path /v2/images/IMG \
      --token @token.jwt --image @image.json \
      --body '[{"op":"replace","path":"/visibility","value":"public"}]' --format json

Flags:
`

// checkCommand is `imagegate check`; it returns the exit status.
func checkCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o checkOptions
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), checkUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.configPath, "config", "", "configuration file (YAML, IMAGEGATE_… variables apply); default: the shipped policies, glance dialect, delegated mode")
	fs.StringVar(&o.policyDir, "policy-dir", "", "policy directory (.rego and data.json), replacing the configured policy")
	fs.StringVar(&o.dialect, "dialect", "", "API dialect: glance or gcore (default: the configured one)")
	fs.StringVar(&o.mode, "mode", "", "upstream mode: delegated or service (default: the configured one)")
	fs.StringVar(&o.method, "method", http.MethodGet, "HTTP method")
	fs.StringVar(&o.path, "path", "", "request target: path and query, as sent (required)")
	fs.StringVar(&o.claims, "claims", "", "the caller's token claims, JSON or @file; mapped to the principal by the configured issuer's claim mapping")
	fs.StringVar(&o.token, "token", "", "the caller's token, or @file; verified by the configured issuers")
	fs.StringVar(&o.body, "body", "", "request body, JSON or @file (JSON documents and PATCH operations only)")
	fs.StringVar(&o.image, "image", "", "resource.image: the upstream's record of the image the path names, JSON or @file; absent means no such image")
	fs.StringVar(&o.membership, "membership", "", `resource.membership: the caller's membership of the image, JSON or @file, e.g. {"member_id":"p1","status":"accepted"}`)
	fs.StringVar(&o.reseller, "reseller", "", "resource.reseller: the reseller limits and shared images the proxy looks up with reseller.source upstream, JSON or @file")
	fs.StringVar(&o.format, "format", "text", "output: text or json")
	fs.Var(&o.explain, "explain", "print OPA's trace of the decision: --explain (full), --explain=fails or --explain=notes")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return checkAllow
		}
		return checkError
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "imagegate check: %v\n", err)
		return checkError
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected arguments %q (every input is a flag)", fs.Args()))
	}
	if o.format != "text" && o.format != "json" {
		return fail(fmt.Errorf("--format: want text or json, got %q", o.format))
	}
	if o.path == "" {
		return fail(errors.New("--path is required"))
	}
	if (o.claims == "") == (o.token == "") {
		return fail(errors.New("give one of --claims or --token: without a token the proxy answers 401 before any policy runs"))
	}
	rep, err := runCheck(ctx, o)
	if err != nil {
		return fail(err)
	}
	if o.format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			return fail(err)
		}
	} else if err := writeCheckText(stdout, rep); err != nil {
		return fail(err)
	}
	if rep.Decision.Allow {
		return checkAllow
	}
	return checkDeny
}

// runCheck builds the request the proxy would see and walks the request path offline:
// route, authentication, body, then the policy on the input the flags describe. The
// policy and every flag are read first, so that a broken policy or input is an error
// whatever step would have answered.
func runCheck(ctx context.Context, o checkOptions) (*checkReport, error) {
	cfg, cfgDir, err := checkConfig(o)
	if err != nil {
		return nil, err
	}
	set, engine, err := checkPolicy(ctx, cfg)
	if err != nil {
		return nil, err
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(
		o.method + " " + o.path + " HTTP/1.1\r\nHost: imagegate\r\n\r\n")))
	if err != nil {
		return nil, fmt.Errorf("--method/--path do not make an HTTP request line: %v", err)
	}
	raw, err := argBytes("--body", o.body)
	if err != nil {
		return nil, err
	}
	// Resource: what enrichment would have looked up.
	in := &policy.Input{
		Method: req.Method, Path: req.URL.Path,
		Dialect: cfg.Dialect, UpstreamMode: cfg.Upstream.Mode, Region: cfg.Reseller.Region,
	}
	if o.image != "" {
		if err := argJSON("--image", o.image, &in.Image); err != nil {
			return nil, err
		}
		if in.Image == nil {
			return nil, errors.New("--image: want a JSON object")
		}
	}
	if o.membership != "" {
		var m policy.Membership
		if err := argJSON("--membership", o.membership, &m); err != nil {
			return nil, err
		}
		in.Membership = &m
	}
	if o.reseller != "" {
		if err := argJSON("--reseller", o.reseller, &in.Reseller); err != nil {
			return nil, err
		}
	}
	rep := &checkReport{method: o.method, target: o.path, dialect: cfg.Dialect, mode: cfg.Upstream.Mode}

	// Route: the same canonical-path and query rules as the proxy, on the same parse of
	// the request line.
	router := route.NewGlance()
	if cfg.Dialect == config.DialectGcore {
		router = route.NewGcore()
	}
	op, query, err := router.Resolve(req, cfg.Limits.MaxQueryParams)
	if err != nil {
		var rerr *route.Error
		if !errors.As(err, &rerr) {
			return refused(rep, stageRoute, http.StatusBadRequest, "bad_path", err.Error()), nil
		}
		return refused(rep, stageRoute, rerr.Status(), rerr.Code, rerr.Message), nil
	}
	rep.Operation = &op
	in.Operation, in.Query = op, query

	// Principal: a verified token, or claims mapped by the configured issuer.
	var aerr error
	if o.token != "" {
		in.Principal, aerr = principalFromToken(ctx, cfg, cfgDir, o.token)
	} else {
		var note string
		in.Principal, note, aerr = principalFromClaims(ctx, cfg, o.claims)
		if note != "" {
			rep.Notes = append(rep.Notes, note)
		}
	}
	if aerr != nil {
		var ae *authn.Error
		if !errors.As(aerr, &ae) {
			return nil, aerr
		}
		msg := "authentication failed: " + string(ae.Code)
		if ae.Message != "" {
			msg = "authentication failed: " + ae.Message
		}
		return refused(rep, stageAuthn, ae.Code.HTTPStatus(), string(ae.Code), msg), nil
	}

	// Body: parsed exactly as the request path parses it.
	if int64(len(raw)) > cfg.Limits.MaxJSONBodyBytes && op.Body != route.BodyData {
		return refused(rep, stageBody, http.StatusRequestEntityTooLarge, "body_too_large",
			fmt.Sprintf("request body over %d bytes", cfg.Limits.MaxJSONBodyBytes)), nil
	}
	if in.Body, in.Patch, err = proxy.DecodeBody(op, raw, cfg.Limits.MaxJSONDepth); err != nil {
		return refused(rep, stageBody, http.StatusBadRequest, "bad_body", err.Error()), nil
	}
	if len(raw) > 0 && op.Body == route.BodyData {
		rep.Notes = append(rep.Notes, op.Name+" streams image data: the policy never sees the body")
	}
	if in.Image == nil && op.Params["image_id"] != "" {
		rep.Notes = append(rep.Notes, "no --image: resource.image is null, as for an image that does not exist")
	}
	rep.principal, rep.image, rep.membership = in.Principal, in.Image, in.Membership

	// Policy: the engine decides, as in the proxy; a traced evaluation of the same set
	// says which rules produced the decision.
	value, err := in.Value(nil)
	if err != nil {
		return nil, fmt.Errorf("policy input: %w", err)
	}
	if rep.Input, err = valueJSON(value); err != nil {
		return nil, fmt.Errorf("policy input: %w", err)
	}
	rep.Stage, rep.Policy, rep.Revision = stagePolicy, set.Name, engine.Revision()
	d, _, err := engine.Decide(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("%w (the proxy would answer 500 policy_error)", err)
	}
	rep.Decision = d
	tr, err := traceDecision(ctx, set, value, string(o.explain))
	if err != nil {
		return nil, err
	}
	rep.Rules, rep.Explanation = tr.rules, tr.explanation
	return rep, nil
}

// checkPolicy loads the policy the proxy would load, with the reseller data it merges.
func checkPolicy(ctx context.Context, cfg config.Config) (policy.Set, *policy.Engine, error) {
	src, err := checkPolicySource(cfg)
	if err != nil {
		return policy.Set{}, nil, err
	}
	set, err := policy.ReadSet(src)
	if err != nil {
		return policy.Set{}, nil, err
	}
	if file := cfg.Reseller.File; file != "" {
		// Reseller limits as policy data, as the proxy merges them on every load.
		extra, err := enrich.LoadResellerFile(file)
		if err != nil {
			return policy.Set{}, nil, err
		}
		if set.Data, err = mergeData(set.Data, extra, "data"); err != nil {
			return policy.Set{}, nil, fmt.Errorf("reseller.file: %w", err)
		}
	}
	engine := policy.NewEmpty()
	if err := engine.Load(ctx, set); err != nil {
		return policy.Set{}, nil, err
	}
	return set, engine, nil
}

// refused is a check that ended before the policy, at a step that refuses as the proxy
// does.
func refused(rep *checkReport, stage string, status int, code, msg string) *checkReport {
	rep.Stage = stage
	rep.Decision = policy.Decision{Allow: false, Status: status, Code: code, Reasons: []string{msg}}
	return rep
}

// checkConfig loads the configuration (the file and IMAGEGATE_… variables, as serve does)
// or, without --config, the defaults; the flags override the policy, dialect and mode.
func checkConfig(o checkOptions) (config.Config, string, error) {
	var cfg config.Config
	dir := ""
	if o.configPath != "" {
		var err error
		if cfg, err = config.Load(o.configPath, os.Environ()); err != nil {
			return cfg, "", err
		}
		dir = filepath.Dir(o.configPath)
	} else {
		cfg = config.Default()
	}
	if o.policyDir != "" {
		cfg.Policy.Dir = o.policyDir
		cfg.Policy.Bundle.URL = ""
	}
	if o.dialect != "" {
		if o.dialect != config.DialectGlance && o.dialect != config.DialectGcore {
			return cfg, "", fmt.Errorf("--dialect: want %s or %s, got %q", config.DialectGlance, config.DialectGcore, o.dialect)
		}
		cfg.Dialect = o.dialect
	}
	if o.mode != "" {
		if o.mode != config.ModeDelegated && o.mode != config.ModeService {
			return cfg, "", fmt.Errorf("--mode: want %s or %s, got %q", config.ModeDelegated, config.ModeService, o.mode)
		}
		cfg.Upstream.Mode = o.mode
	}
	return cfg, dir, nil
}

// checkPolicySource is the policy the proxy would load: policy.dir, else the shipped one.
// A bundle is fetched by the running proxy only; check reads its files from a directory.
func checkPolicySource(cfg config.Config) (policy.Source, error) {
	switch {
	case cfg.Policy.Dir != "":
		return policy.DirSource(cfg.Policy.Dir), nil
	case cfg.Policy.Bundle.URL != "":
		return policy.Source{}, errors.New("the configuration loads its policy from a bundle service: give the bundle's files with --policy-dir")
	}
	return policy.Source{Name: "embedded", FS: policies.FS()}, nil
}

// principalFromToken verifies a token with the configured issuers, as the proxy does.
func principalFromToken(ctx context.Context, cfg config.Config, dir, arg string) (*authn.Principal, error) {
	raw, err := argBytes("--token", arg)
	if err != nil {
		return nil, err
	}
	token := strings.TrimSpace(string(raw))
	token = strings.TrimSpace(strings.TrimPrefix(token, "Bearer "))
	if len(cfg.Auth.Issuers) == 0 {
		return nil, errors.New("--token needs a configuration with auth.issuers (--config); use --claims to check without one")
	}
	var opts []authn.Option
	if dir != "" {
		opts = append(opts, authn.WithBaseDir(dir))
	}
	a, err := authn.New(ctx, cfg.Auth, opts...)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	defer a.Close()
	return a.AuthenticateToken(ctx, token)
}

// principalFromClaims maps claims to a principal with the claim mapping of the issuer
// they name (iss), or of the only or first configured one. The mapping is the
// authenticator's own: the claims are signed with a key made for this check and verified
// by an issuer configured as the real one but for its keys. Time claims are set to a
// valid window; input.principal.claims shows the claims as given.
func principalFromClaims(ctx context.Context, cfg config.Config, arg string) (*authn.Principal, string, error) {
	raw, err := argBytes("--claims", arg)
	if err != nil {
		return nil, "", err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var given map[string]any
	if err := dec.Decode(&given); err != nil || given == nil {
		return nil, "", fmt.Errorf("--claims: want a JSON object of claims (%v)", err)
	}
	issuers := cfg.Auth.Issuers
	if len(issuers) == 0 {
		issuers = []authn.IssuerConfig{{
			Issuer:   checkIssuer,
			Audience: []string{"imagegate"},
			Claims: authn.ClaimsConfig{
				User: authn.DefaultUserClaim, Tenant: authn.DefaultTenantClaim,
				Roles: authn.DefaultRolesClaim, Reseller: "reseller_id", Client: "client_id",
			},
		}}
	}
	ic := issuers[0]
	note := ""
	if iss, ok := given["iss"].(string); ok {
		found := false
		for _, c := range issuers {
			if c.Issuer == iss {
				ic, found = c, true
				break
			}
		}
		if !found {
			return nil, "", fmt.Errorf("--claims: iss %q is no configured issuer", iss)
		}
	} else if len(issuers) > 1 {
		note = fmt.Sprintf("claims mapped as issuer %s's (set iss to choose another)", ic.Issuer)
	}

	signer, err := authn.NewEd25519Signer("imagegate-check")
	if err != nil {
		return nil, "", err
	}
	jwks, err := signer.PublicJWKS()
	if err != nil {
		return nil, "", err
	}
	keyDir, err := os.MkdirTemp("", "imagegate-check-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(keyDir)
	keyFile := filepath.Join(keyDir, "jwks.json")
	if err := os.WriteFile(keyFile, jwks, 0o600); err != nil {
		return nil, "", err
	}
	ic.KeyFiles = []authn.KeyFile{{Path: keyFile}}
	ic.JWKSURL, ic.OIDCDiscovery, ic.HMACSecretFile, ic.RefreshInterval = "", false, "", 0
	ic.Algorithms = []string{signer.Algorithm()}
	a, err := authn.New(ctx, authn.Config{MaxTokenBytes: 1 << 20, Issuers: []authn.IssuerConfig{ic}})
	if err != nil {
		return nil, "", fmt.Errorf("auth: %w", err)
	}
	defer a.Close()

	claims := jwt.MapClaims{}
	for k, v := range given {
		claims[k] = v
	}
	claims["iss"] = ic.Issuer
	if _, ok := claims["aud"]; !ok {
		aud := "imagegate"
		if len(ic.Audience) > 0 {
			aud = ic.Audience[0]
		}
		claims["aud"] = aud
	}
	now := time.Now()
	claims["iat"], claims["nbf"], claims["exp"] = now.Unix(), now.Unix(), now.Add(time.Hour).Unix()
	token, err := signer.Sign(claims)
	if err != nil {
		return nil, "", err
	}
	p, err := a.AuthenticateToken(ctx, token)
	if err != nil {
		return nil, note, err
	}
	// The policy sees the claims as given (with iss and aud), not this check's own times.
	out := *p
	out.Claims = map[string]any{}
	for k, v := range given {
		out.Claims[k] = v
	}
	out.Claims["iss"], out.Claims["aud"] = claims["iss"], claims["aud"]
	return &out, note, nil
}

// mergeData adds the documents of extra to data; a value both define is an error, as the
// engine refuses it.
func mergeData(data, extra map[string]any, path string) (map[string]any, error) {
	out := make(map[string]any, len(data)+len(extra))
	for k, v := range data {
		out[k] = v
	}
	for k, v := range extra {
		cur, ok := out[k]
		if !ok {
			out[k] = v
			continue
		}
		a, aok := cur.(map[string]any)
		b, bok := v.(map[string]any)
		if !aok || !bok {
			return nil, fmt.Errorf("%s.%s is defined twice", path, k)
		}
		merged, err := mergeData(a, b, path+"."+k)
		if err != nil {
			return nil, err
		}
		out[k] = merged
	}
	return out, nil
}

// argBytes reads a flag value that is either inline or @file ("@-" is standard input).
func argBytes(name, v string) ([]byte, error) {
	file, ok := strings.CutPrefix(v, "@")
	if !ok {
		return []byte(v), nil
	}
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

// argJSON decodes a JSON flag value (inline or @file) into v, numbers kept exact.
func argJSON(name, arg string, v any) error {
	raw, err := argBytes(name, arg)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: not the JSON expected: %w", name, err)
	}
	if dec.More() {
		return fmt.Errorf("%s: data after the JSON document", name)
	}
	return nil
}
