package attack

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/imageapi"
	"github.com/imagegate/imagegate/tests/testenv"
)

// The attack corpus: every item of DESIGN §6 as a request to the real binary, with the
// answer it must get, whether the upstream may receive it (and then exactly in which
// form), and the decision event every refusal must leave. The attacker (c.bob) is an
// ordinary member; the victims are the private images of other tenants (corpusDialects).
//
// Rows are written once with placeholders and run for every dialect and upstream mode
// (see corpusDialects): {images} is the image collection, {own} the attacker's private
// image, {victim} another tenant's private image, {public} a public image.

// attackCase is one row of the corpus.
type attackCase struct {
	cat, name string
	// threat is what the row stands for (docs/security.md lists it).
	threat string
	// only limits the row to one dialect ("" for all).
	only string
	req  rawRequest
	// token returns the token to send; nil sends the attacker's valid token, and a
	// function returning "" sends none.
	token func(t *testing.T, c *corpusEnv) string
	// status is the answer expected; typ the error type of a refusal.
	status int
	typ    string
	// forward is the exact request line ("METHOD /escaped/path?query") the upstream must
	// receive, or "" when it must receive nothing of this request.
	forward string
	// fault names an upstream fault injected into the forwarded request.
	fault string
	// server marks requests net/http itself refuses before imagegate sees them: a plain
	// 400, no decision event (there is no request to decide on), nothing forwarded.
	server bool
	// before prepares state; check adds assertions of its own.
	before func(t *testing.T, c *corpusEnv)
	check  func(t *testing.T, c *corpusEnv, resp *http.Response, body []byte, fwd []imageapi.RecordedRequest)
}

// corpusEnv is one running proxy the rows of one dialect and mode share.
type corpusEnv struct {
	p        *proc
	profile  dialectProfile
	dialect  string
	mode     string
	vars     *strings.Replacer
	attacker string
	fault    *faultUpstream
	// trap is a key server the attacker names in jku/x5u/kid; it must never be asked.
	trap     *httptest.Server
	trapHits atomic.Int64
}

// dialectProfile is what the corpus needs to know of a dialect: its paths, its
// attacker, and what the attacker must never see.
type dialectProfile struct {
	name string
	vars map[string]string
	// claims are the attacker's valid claims (iss, aud and times are added).
	claims jwt.MapClaims
	// leaks are ids and names of other tenants' private images.
	leaks []string
	// faults shapes the fault upstream's answers.
	faults faultShape
}

// corpusDialects lists the dialects the corpus runs in: Glance v2 (attacker tenant 2000,
// victims 1000 and 3000) and Gcore v1 (attacker project 211, a client of reseller Green;
// victims the private images of Blue's clients and of the independent client).
func corpusDialects() []dialectProfile {
	return []dialectProfile{
		{name: "glance", vars: map[string]string{
			"{images}": "/v2/images",
			"{own}":    "/v2/images/" + imageapi.DemoImagePrivateB,
			"{victim}": "/v2/images/" + imageapi.DemoImagePrivateA,
			"{public}": "/v2/images/" + imageapi.DemoImageUbuntu,
		},
			claims: jwt.MapClaims{"project_id": imageapi.DemoTenantB, "roles": []string{"member"}, "sub": "user-" + imageapi.DemoTenantB},
			leaks: []string{
				imageapi.DemoImagePrivateA, "t1000-private-db", imageapi.DemoImageProtectedA, "t1000-golden",
				imageapi.DemoImageQueuedA, "t1000-queued", imageapi.DemoImagePrivateC, "t3000-private",
			},
			faults: glanceFaults},
		{name: "gcore", vars: map[string]string{
			"{images}": "/v1/images/211/1",
			"{own}":    "/v1/images/211/1/" + imageapi.GcoreImageGreenWeb,
			"{victim}": "/v1/images/211/1/" + imageapi.GcoreImageIndie,
			"{public}": "/v1/images/211/1/" + imageapi.GcoreImageWindows,
		},
			claims: jwt.MapClaims{"project_id": imageapi.GcoreProjectGreen, "client_id": "21", "reseller_id": imageapi.GcoreResellerGreen,
				"roles": []string{"member"}, "sub": "user-" + imageapi.GcoreProjectGreen},
			leaks: []string{
				imageapi.GcoreImageBlueGolden, "blue-golden", imageapi.GcoreImageBlueApp, "blue-app",
				imageapi.GcoreImageIndie, `"indie"`,
			},
			faults: gcoreFaults},
	}
}

func TestAttackCorpus(t *testing.T) {
	cases := corpus()
	for _, d := range corpusDialects() {
		t.Run(d.name, func(t *testing.T) {
			for _, mode := range []string{config.ModeService, config.ModeDelegated} {
				t.Run(mode, func(t *testing.T) {
					c := newCorpusEnv(t, d, mode)
					if err := c.probe(); err != nil {
						t.Fatalf("dialect %s is not served end to end: %v", d.name, err)
					}
					for i, ac := range cases {
						if ac.only != "" && ac.only != d.name {
							continue
						}
						t.Run(ac.cat+"/"+ac.name, func(t *testing.T) {
							c.run(t, i, ac)
						})
					}
				})
			}
		})
	}
}

func newCorpusEnv(t *testing.T, d dialectProfile, mode string) *corpusEnv {
	c := &corpusEnv{profile: d, dialect: d.name, mode: mode, fault: &faultUpstream{shape: d.faults, slow: 1500 * time.Millisecond}}
	c.trap = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		c.trapHits.Add(1)
		http.NotFound(w, nil)
	}))
	t.Cleanup(c.trap.Close)
	dialect := ""
	if d.name == config.DialectGcore {
		dialect = d.name
	}
	c.p = startProc(t, procOptions{Options: testenv.Options{
		Mode:     mode,
		Dialect:  dialect,
		Upstream: c.fault,
		Configure: func(cfg *config.Config) {
			cfg.Upstream.ResponseHeaderTimeout = config.Duration(500 * time.Millisecond)
			cfg.Limits.MaxResponseBytes = 1 << 20
		},
	}})
	if c.p.Gcore != nil {
		c.fault.api, c.fault.requests = c.p.Gcore, c.p.Gcore.Requests
	} else {
		c.fault.api, c.fault.requests = c.p.API, c.p.API.Requests
	}
	c.attacker = c.sign(t, c.bob())
	pairs := []string{"{trap}", c.trap.URL, "{host}", c.p.addr}
	for k, v := range d.vars {
		pairs = append(pairs, k, v)
	}
	c.vars = strings.NewReplacer(pairs...)
	t.Cleanup(func() {
		if n := c.trapHits.Load(); n != 0 {
			t.Errorf("the proxy fetched an attacker-named URL %d times", n)
		}
	})
	return c
}

// bob returns the attacker's valid claims.
func (c *corpusEnv) bob() jwt.MapClaims {
	out := claimsFor("", "")
	delete(out, "roles")
	for k, v := range c.profile.claims {
		out[k] = v
	}
	return out
}

// sign signs claims as the test issuer, exactly as given.
func (c *corpusEnv) sign(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	s, err := c.p.Signer.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// probe checks that the attacker's plain list works, so that every refusal below is
// due to the attack and not to a dialect this build does not serve yet.
func (c *corpusEnv) probe() error {
	req := get(c.vars.Replace("{images}"), "X-Auth-Token: "+c.attacker)
	resp, body, err := sendRaw(c.p.addr, req.wire(c.p.addr))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s answers %d: %.200s", req.Target, resp.StatusCode, body)
	}
	return nil
}

// run sends one row and checks everything the corpus promises about it.
func (c *corpusEnv) run(t *testing.T, i int, ac attackCase) {
	if ac.before != nil {
		ac.before(t, c)
	}
	rid := fmt.Sprintf("atk-%s-%s-%03d", c.dialect, c.mode[:3], i)
	if ac.fault != "" {
		rid += "-" + ac.fault
	}
	req := ac.req
	req.Target = c.vars.Replace(req.Target)
	req.Body = c.vars.Replace(req.Body)
	header := []string{"X-Request-Id: " + rid}
	for _, h := range req.Header {
		if strings.HasPrefix(strings.ToLower(h), "x-request-id:") {
			header = nil // the row tests the request id itself
		}
	}
	req.Header = append(header, req.Header...)
	for j, h := range req.Header {
		req.Header[j] = c.vars.Replace(h)
	}
	token := c.attacker
	if ac.token != nil {
		token = ac.token(t, c)
	}
	if token != "" {
		req.Header = append(req.Header, "X-Auth-Token: "+token)
	}
	resp, body, err := sendRaw(c.p.addr, req.wire(c.p.addr))
	if ac.fault == faultResetData {
		// The answer was cut: the client must see an incomplete body, never a success.
		if err == nil {
			t.Fatalf("a download cut by the upstream reached the client complete: %d, %d bytes", resp.StatusCode, len(body))
		}
	} else if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.Target, err)
	}
	if resp.StatusCode != ac.status {
		t.Fatalf("%s %.80s: status %d, want %d: %.300s", req.Method, req.Target, resp.StatusCode, ac.status, body)
	}
	for _, s := range c.profile.leaks {
		if strings.Contains(string(body), s) && !strings.Contains(req.Target+req.Body, s) {
			t.Errorf("the answer leaks %q: %.300s", s, body)
		}
	}
	fwd := c.forwarded(rid)
	if ac.forward == "" && len(fwd) > 0 {
		t.Errorf("the upstream received %d request(s) of a refused call, e.g. %s %s?%s", len(fwd), fwd[0].Method, fwd[0].Path, fwd[0].RawQuery)
	}
	if want := c.vars.Replace(ac.forward); want != "" {
		if len(fwd) == 0 {
			t.Errorf("the upstream received nothing, want exactly %s", want)
		} else if got := requestLine(fwd[0]); got != want {
			t.Errorf("the upstream received %s, want exactly %s", got, want)
		}
		// A filtered list may read further upstream pages to fill the caller's page;
		// nothing else may follow the decided request.
		for _, rr := range fwd[1:] {
			if rr.Method != "GET" || !strings.HasPrefix(rr.Path, c.vars.Replace("{images}")) || rr.RawQuery == "" {
				t.Errorf("after the decided request the upstream received %s", requestLine(rr))
			}
		}
	}
	if !ac.server {
		c.checkEvent(t, ac, rid, resp, body)
	}
	if ac.check != nil {
		ac.check(t, c, resp, body, fwd)
	}
}

// checkEvent: a refusal has imagegate's JSON error and a decision event saying why.
func (c *corpusEnv) checkEvent(t *testing.T, ac attackCase, rid string, resp *http.Response, body []byte) {
	t.Helper()
	if got := resp.Header.Get("X-Request-Id"); got != "" {
		rid = got
	}
	ev, ok := c.p.event(t, rid)
	if !ok {
		t.Fatalf("no decision event for request %s", rid)
	}
	if ac.status >= 400 {
		if ac.req.Method != http.MethodHead { // a HEAD answer has no body
			checkJSONError(t, resp, body, ac.status, ac.typ)
		}
		if ev.Result.Allow || ev.Result.Status != ac.status || (ac.typ != "" && ev.Result.Code != ac.typ) {
			t.Errorf("decision event %+v, want a denial %d %s", ev.Result, ac.status, ac.typ)
		}
		if len(ev.Result.Reasons) == 0 && ac.fault == "" {
			t.Errorf("a refusal without reasons: %+v", ev.Result)
		}
	} else if ac.fault == "" && ev.Result.Status != ac.status {
		t.Errorf("decision event %+v, want status %d", ev.Result, ac.status)
	}
}

// forwarded returns what the upstream received as (part of) the request rid, leaving
// out the proxy's own lookups, which carry no request id.
func (c *corpusEnv) forwarded(rid string) []imageapi.RecordedRequest {
	var out []imageapi.RecordedRequest
	for _, rr := range c.fault.requests() {
		if rr.Header.Get("X-Openstack-Request-Id") == rid {
			out = append(out, rr)
		}
	}
	return append(out, c.fault.recorded(rid)...)
}

// requestLine is "METHOD /escaped/path?query" of a recorded request.
func requestLine(rr imageapi.RecordedRequest) string {
	u := url.URL{Path: rr.Path, RawPath: rr.RawPath, RawQuery: rr.RawQuery}
	return rr.Method + " " + u.RequestURI()
}

// Request builders.
func get(target string, header ...string) rawRequest {
	return rawRequest{Method: "GET", Target: target, Header: header}
}

func send(method, target, body string, header ...string) rawRequest {
	return rawRequest{Method: method, Target: target, Body: body, Header: header}
}

const (
	ctJSON  = "Content-Type: application/json"
	ctPatch = "Content-Type: application/openstack-images-v2.1-json-patch"
)

// tok returns a token function for claims signed by the test issuer.
func tok(claims func(c *corpusEnv) jwt.MapClaims) func(*testing.T, *corpusEnv) string {
	return func(t *testing.T, c *corpusEnv) string { return c.sign(t, claims(c)) }
}

func literal(s string) func(*testing.T, *corpusEnv) string {
	return func(*testing.T, *corpusEnv) string { return s }
}

// many returns n copies of s joined by sep.
func many(s, sep string, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(s, i)
	}
	return strings.Join(parts, sep)
}

func corpus() []attackCase {
	var cases []attackCase
	add := func(cs ...attackCase) { cases = append(cases, cs...) }

	// Tokens: every one refused by authentication (401), nothing forwarded.
	list := get("{images}")
	add(
		attackCase{cat: "tokens", name: "no token", threat: "anonymous access", req: list, token: literal(""), status: 401, typ: "token_missing"},
		attackCase{cat: "tokens", name: "alg none", threat: "unsigned token accepted as signed", req: list, status: 401, typ: "bad_algorithm",
			token: func(t *testing.T, c *corpusEnv) string {
				return unsigned(t, map[string]any{"alg": "none", "typ": "JWT", "kid": "test-1"}, c.bob())
			}},
		attackCase{cat: "tokens", name: "alg None mixed case", threat: "alg check by case-insensitive compare", req: list, status: 401, typ: "bad_algorithm",
			token: func(t *testing.T, c *corpusEnv) string { return unsigned(t, map[string]any{"alg": "nOnE"}, c.bob()) }},
		attackCase{cat: "tokens", name: "HS256 signed with the RSA public key", threat: "algorithm confusion: the public key used as an HMAC secret",
			req: list, status: 401, typ: "bad_algorithm",
			token: func(t *testing.T, c *corpusEnv) string {
				pem, err := c.p.Signer.PublicKeyPEM()
				if err != nil {
					t.Fatal(err)
				}
				return signAs(t, jwt.SigningMethodHS256, pem, map[string]any{"kid": "test-1"}, c.bob())
			}},
		attackCase{cat: "tokens", name: "ES256 header on the RSA key", threat: "key type not matching alg", req: list, status: 401, typ: "bad_algorithm",
			token: func(t *testing.T, c *corpusEnv) string {
				tk := c.sign(t, c.bob())
				parts := strings.SplitN(tk, ".", 3)
				hdr := unsigned(t, map[string]any{"alg": "ES256", "kid": "test-1", "typ": "JWT"}, nil)
				return strings.SplitN(hdr, ".", 2)[0] + "." + parts[1] + "." + parts[2]
			}},
		attackCase{cat: "tokens", name: "embedded jwk", threat: "token carries its own verification key", req: list, status: 401, typ: "bad_signature",
			token: func(t *testing.T, c *corpusEnv) string {
				return signAs(t, jwt.SigningMethodRS256, attackerKey, map[string]any{"kid": "test-1", "jwk": attackerJWK(t)}, c.bob())
			}},
		attackCase{cat: "tokens", name: "jku to the attacker's keys", threat: "proxy fetches keys from a URL the token names", req: list, status: 401, typ: "unknown_key",
			token: func(t *testing.T, c *corpusEnv) string {
				return signAs(t, jwt.SigningMethodRS256, attackerKey, map[string]any{"kid": "attacker", "jku": c.trap.URL + "/jwks"}, c.bob())
			}},
		attackCase{cat: "tokens", name: "x5u to the attacker's certificate", threat: "proxy fetches a certificate chain from a URL the token names", req: list, status: 401, typ: "unknown_key",
			token: func(t *testing.T, c *corpusEnv) string {
				return signAs(t, jwt.SigningMethodRS256, attackerKey, map[string]any{"kid": "attacker", "x5u": c.trap.URL + "/cert.pem"}, c.bob())
			}},
		attackCase{cat: "tokens", name: "unknown kid", threat: "key confusion by kid", req: list, status: 401, typ: "unknown_key",
			token: func(t *testing.T, c *corpusEnv) string {
				return signAs(t, jwt.SigningMethodRS256, attackerKey, map[string]any{"kid": "no-such-key"}, c.bob())
			}},
		attackCase{cat: "tokens", name: "kid path traversal", threat: "kid used as a file path", req: list, status: 401, typ: "unknown_key",
			token: func(t *testing.T, c *corpusEnv) string {
				return signAs(t, jwt.SigningMethodRS256, attackerKey, map[string]any{"kid": "../../../../../dev/null"}, c.bob())
			}},
		attackCase{cat: "tokens", name: "kid URL", threat: "kid used as a URL to fetch", req: list, status: 401, typ: "unknown_key",
			token: func(t *testing.T, c *corpusEnv) string {
				return signAs(t, jwt.SigningMethodRS256, attackerKey, map[string]any{"kid": c.trap.URL + "/key"}, c.bob())
			}},
		attackCase{cat: "tokens", name: "kid SQL and NUL", threat: "kid used in a query or a C string", req: list, status: 401, typ: "unknown_key",
			token: func(t *testing.T, c *corpusEnv) string {
				return signAs(t, jwt.SigningMethodRS256, attackerKey, map[string]any{"kid": "x' OR '1'='1\u0000test-1"}, c.bob())
			}},
		attackCase{cat: "tokens", name: "right kid, attacker's signature", threat: "forged signature", req: list, status: 401, typ: "bad_signature",
			token: func(t *testing.T, c *corpusEnv) string {
				return signAs(t, jwt.SigningMethodRS256, attackerKey, map[string]any{"kid": "test-1"}, c.bob())
			}},
		attackCase{cat: "tokens", name: "blank signature", threat: "signature stripped", req: list, status: 401, typ: "bad_signature",
			token: func(t *testing.T, c *corpusEnv) string {
				tk := c.sign(t, c.bob())
				return tk[:strings.LastIndexByte(tk, '.')+1]
			}},
		attackCase{cat: "tokens", name: "payload swapped under a valid signature", threat: "claims changed after signing", req: list, status: 401, typ: "bad_signature",
			token: func(t *testing.T, c *corpusEnv) string {
				tk := strings.SplitN(c.sign(t, c.bob()), ".", 3)
				admin := strings.SplitN(unsigned(t, nil, with(c.bob(), "project_id", "1000", "roles", []string{"admin"})), ".", 3)
				return tk[0] + "." + admin[1] + "." + tk[2]
			}},
		attackCase{cat: "tokens", name: "expired", threat: "replay of an old token", req: list, status: 401, typ: "token_expired",
			token: tok(func(c *corpusEnv) jwt.MapClaims {
				return with(c.bob(), "exp", time.Now().Add(-2*time.Minute).Unix(), "iat", time.Now().Add(-time.Hour).Unix(), "nbf", time.Now().Add(-time.Hour).Unix())
			})},
		attackCase{cat: "tokens", name: "expired within leeway", threat: "leeway is explicit (30s by default) and applied", req: list, status: 200, forward: "GET {images}",
			token: tok(func(c *corpusEnv) jwt.MapClaims {
				return with(c.bob(), "exp", time.Now().Add(-10*time.Second).Unix(), "iat", time.Now().Add(-time.Hour).Unix(), "nbf", time.Now().Add(-time.Hour).Unix())
			})},
		attackCase{cat: "tokens", name: "no exp", threat: "a token that never expires", req: list, status: 401, typ: "missing_claim",
			token: tok(func(c *corpusEnv) jwt.MapClaims { return with(c.bob(), "exp", nil) })},
		attackCase{cat: "tokens", name: "not yet valid", threat: "token used before nbf", req: list, status: 401, typ: "token_not_yet_valid",
			token: tok(func(c *corpusEnv) jwt.MapClaims { return with(c.bob(), "nbf", time.Now().Add(10*time.Minute).Unix()) })},
		attackCase{cat: "tokens", name: "issued in the future", threat: "token minted with a future iat", req: list, status: 401, typ: "token_not_yet_valid",
			token: tok(func(c *corpusEnv) jwt.MapClaims { return with(c.bob(), "iat", time.Now().Add(10*time.Minute).Unix()) })},
		attackCase{cat: "tokens", name: "wrong issuer", threat: "token of an untrusted issuer", req: list, status: 401, typ: "bad_issuer",
			token: tok(func(c *corpusEnv) jwt.MapClaims { return with(c.bob(), "iss", "https://evil.example") })},
		attackCase{cat: "tokens", name: "issuer with trailing slash", threat: "issuer compared loosely", req: list, status: 401, typ: "bad_issuer",
			token: tok(func(c *corpusEnv) jwt.MapClaims { return with(c.bob(), "iss", testenv.Issuer+"/") })},
		attackCase{cat: "tokens", name: "wrong audience", threat: "token minted for another service", req: list, status: 401, typ: "bad_audience",
			token: tok(func(c *corpusEnv) jwt.MapClaims { return with(c.bob(), "aud", "other-service") })},
		attackCase{cat: "tokens", name: "no audience", threat: "token minted for anyone", req: list, status: 401, typ: "bad_audience",
			token: tok(func(c *corpusEnv) jwt.MapClaims { return with(c.bob(), "aud", nil) })},
		attackCase{cat: "tokens", name: "missing tenant claim", threat: "principal without a tenant", req: list, status: 401, typ: "missing_claim",
			token: tok(func(c *corpusEnv) jwt.MapClaims { return with(c.bob(), "project_id", nil) })},
		attackCase{cat: "tokens", name: "empty tenant claim", threat: "empty tenant matching unowned images", req: list, status: 401, typ: "missing_claim",
			token: tok(func(c *corpusEnv) jwt.MapClaims { return with(c.bob(), "project_id", "") })},
		attackCase{cat: "tokens", name: "tenant claim is an object", threat: "type confusion in claims", req: list, status: 401, typ: "invalid_claim",
			token: tok(func(c *corpusEnv) jwt.MapClaims { return with(c.bob(), "project_id", map[string]any{"id": "1000"}) })},
		attackCase{cat: "tokens", name: "roles claim of mixed types", threat: "type confusion in claims", req: list, status: 401, typ: "invalid_claim",
			token: tok(func(c *corpusEnv) jwt.MapClaims {
				return with(c.bob(), "roles", []any{"member", map[string]any{"admin": true}})
			})},
		attackCase{cat: "tokens", name: "oversized token", threat: "parser cost before verification", req: list, status: 401, typ: "token_too_large",
			token: literal("eyJ" + strings.Repeat("A", 9000) + ".e30.x")},
		attackCase{cat: "tokens", name: "many dots", threat: "parser cost before verification", req: list, status: 401, typ: "token_malformed",
			token: literal(manyDots())},
		attackCase{cat: "tokens", name: "not base64url", threat: "lenient decoding", req: list, status: 401, typ: "token_malformed",
			token: literal("eyJhbGciOiJSUzI1NiJ9.e30+/.c2ln")},
		attackCase{cat: "tokens", name: "two different tokens", threat: "proxy and upstream trust different tokens",
			req: get("{images}", "Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln"), status: 401, typ: "token_malformed"},
		attackCase{cat: "tokens", name: "X-Auth-Token twice", threat: "proxy and upstream read different copies", req: get("{images}", "X-Auth-Token: x.y.z"), status: 401, typ: "token_malformed"},
		attackCase{cat: "tokens", name: "token in the query", threat: "tokens in URLs end up in logs", req: get("{images}?X-Auth-Token=a.b.c&token=a.b.c"), token: literal(""), status: 401, typ: "token_missing", only: "glance"},
		attackCase{cat: "tokens", name: "Basic credentials", threat: "another scheme read as a token", req: get("{images}", "Authorization: Basic YWRtaW46YWRtaW4="), token: literal(""), status: 401, typ: "token_malformed"},
	)

	// Paths: what the policy decides on is exactly what the upstream reads.
	add(
		attackCase{cat: "paths", name: "dot-dot", threat: "path traversal to another image", req: get("{own}/../" + imageapi.DemoImagePrivateA), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "encoded dot-dot", threat: "traversal hidden from a decoder-less check", req: get("{own}/%2e%2e/" + imageapi.DemoImagePrivateA), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "mixed-case encoded dot-dot", threat: "traversal", req: get("{own}/.%2E/" + imageapi.DemoImagePrivateA), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "double-encoded dot-dot", threat: "traversal decoded twice downstream", req: get("{own}/%252e%252e/" + imageapi.DemoImagePrivateA), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "overlong UTF-8 dot", threat: "non-shortest UTF-8 decoders", req: get("{own}/%c0%ae%c0%ae/" + imageapi.DemoImagePrivateA), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "encoded slash", threat: "segment split differently by the upstream", req: get("{images}/" + imageapi.DemoImagePrivateB + "%2fmembers"), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "encoded backslash", threat: "backslash as a separator", req: get("{own}%5c..%5c" + imageapi.DemoImagePrivateA), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "raw backslash", threat: "backslash as a separator", req: get("{own}\\..\\" + imageapi.DemoImagePrivateA), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "double slash", threat: "empty segment merged downstream", req: get("/{images}"), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "inner double slash", threat: "empty segment merged downstream", req: get("{images}//" + imageapi.DemoImagePrivateA), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "trailing slash", threat: "route matched differently", req: get("{victim}/"), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "path parameters", threat: "';params' dropped by one reader, kept by the other", req: get("{own};/../" + imageapi.DemoImagePrivateA), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "path parameter on the id", threat: "';params' dropped by one reader", req: get("{victim};x=1"), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "encoded semicolon", threat: "';params' after decoding", req: get("{victim}%3bx=1"), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "raw fragment", threat: "fragment read as part of the path", req: get("{own}#/../" + imageapi.DemoImagePrivateA), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "encoded fragment", threat: "fragment after decoding", req: get("{own}%23x"), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "encoded NUL", threat: "C-string truncation downstream", req: get("{own}%00/../x"), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "raw NUL", threat: "C-string truncation downstream", req: get("{own}\x00x"), status: 400, server: true},
		attackCase{cat: "paths", name: "encoded newline", threat: "log and header injection", req: get("{own}%0d%0aX-Roles:%20admin"), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "C1 control", threat: "NEL as a line break", req: get("{own}%c2%85"), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "invalid UTF-8", threat: "decoded differently by UTF-8 and Latin-1 readers", req: get("{own}%ff"), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "raw non-ASCII", threat: "decoded differently by UTF-8 and Latin-1 readers", req: get("{own}\u00e9"), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "malformed escape", threat: "escape read differently", req: get("{own}%zz"), status: 400, server: true},
		attackCase{cat: "paths", name: "upper-case route", threat: "case-insensitive routing downstream", req: get("/V2/IMAGES"), status: 404, typ: "not_found", only: "glance"},
		attackCase{cat: "paths", name: "mixed-case route", threat: "case-insensitive routing downstream", req: get("/v2/Images/" + imageapi.DemoImagePrivateA), status: 404, typ: "not_found", only: "glance"},
		attackCase{cat: "paths", name: "unknown route", threat: "forwarding what no policy covers", req: get("/v2/admin/images"), status: 404, typ: "not_found"},
		attackCase{cat: "paths", name: "upstream healthcheck", threat: "forwarding what no policy covers", req: get("/healthcheck"), status: 404, typ: "not_found"},
		attackCase{cat: "paths", name: "absolute form", threat: "Host replaced by the request target", req: get("http://127.0.0.1:1{victim}"), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "absolute form, own host", threat: "two paths of one request", req: get("http://{host}{victim}"), status: 400, typ: "bad_path"},
		attackCase{cat: "paths", name: "asterisk form", threat: "server-wide OPTIONS forwarded", req: rawRequest{Method: "OPTIONS", Target: "*"}, status: 200, server: true},
		attackCase{cat: "paths", name: "authority form", threat: "CONNECT tunnel through the proxy", req: rawRequest{Method: "CONNECT", Target: "127.0.0.1:22"}, status: 405, typ: "method_not_allowed"},
		attackCase{cat: "paths", name: "X-HTTP-Method-Override", threat: "another operation than the one decided", req: get("{own}", "X-HTTP-Method-Override: DELETE"), status: 400, typ: "method_override"},
		attackCase{cat: "paths", name: "X_HTTP_Method_Override", threat: "override header spelled for WSGI", req: get("{own}", "X_HTTP_Method_Override: DELETE"), status: 400, typ: "method_override"},
		attackCase{cat: "paths", name: "X-HTTP-Method", threat: "override header variant", req: get("{own}", "X-HTTP-Method: DELETE"), status: 400, typ: "method_override"},
		attackCase{cat: "paths", name: "X-Method-Override", threat: "override header variant", req: get("{own}", "x-method-override: PATCH"), status: 400, typ: "method_override"},
		attackCase{cat: "paths", name: "HEAD", threat: "method not in the route table", req: rawRequest{Method: "HEAD", Target: "{victim}"}, status: 405, typ: "method_not_allowed"},
		attackCase{cat: "paths", name: "OPTIONS", threat: "method not in the route table", req: rawRequest{Method: "OPTIONS", Target: "{victim}"}, status: 405, typ: "method_not_allowed"},
		attackCase{cat: "paths", name: "TRACE", threat: "request reflected with its headers", req: rawRequest{Method: "TRACE", Target: "{images}"}, status: 405, typ: "method_not_allowed"},
		attackCase{cat: "paths", name: "lower-case method", threat: "method compared loosely", req: rawRequest{Method: "delete", Target: "{own}"}, status: 405, typ: "method_not_allowed"},
		attackCase{cat: "paths", name: "unknown method", threat: "method the upstream maps to another", req: rawRequest{Method: "PROPFIND", Target: "{own}"}, status: 405, typ: "method_not_allowed"},
		attackCase{cat: "paths", name: "parameter too long", threat: "oversized ids in lookups and logs", req: get("{images}/" + strings.Repeat("a", 300)), status: 400, typ: "bad_param"},
		attackCase{cat: "paths", name: "full-width dots", threat: "Unicode normalisation downstream", req: get("{images}/%EF%BC%8E%EF%BC%8E"), status: 404, typ: "not_found"},
		attackCase{cat: "paths", name: "another tenant's image", threat: "direct object reference", req: get("{victim}"), status: 404, typ: "not_found"},
		attackCase{cat: "paths", name: "another tenant's image data", threat: "direct object reference", req: get("{victim}/file"), status: 404, typ: "not_found", only: "glance"},
		attackCase{cat: "paths", name: "another tenant's members", threat: "direct object reference", req: get("{victim}/members"), status: 404, typ: "not_found", only: "glance"},
		attackCase{cat: "paths", name: "encoded unreserved characters", threat: "the upstream reads the escaped path the policy decided on",
			req: get("/v2/im%61ges?limit=1"), status: 200, forward: "GET /v2/im%61ges?limit=1", only: "glance"},
		attackCase{cat: "paths", name: "encoded space in a tag", threat: "the upstream reads the escaped path the policy decided on",
			req: rawRequest{Method: "PUT", Target: "{own}/tags/my%20tag"}, status: 204, forward: "PUT {own}/tags/my%20tag", only: "glance"},
	)

	// Queries: the upstream gets exactly the parameters the policy saw.
	add(
		attackCase{cat: "queries", name: "semicolon separator", threat: "a=1;b=2 split by one reader only", req: get("{images}?limit=1;visibility=all"), status: 400, typ: "bad_query"},
		attackCase{cat: "queries", name: "malformed escape", threat: "escape read differently", req: get("{images}?name=%zz"), status: 400, typ: "bad_query"},
		attackCase{cat: "queries", name: "encoded NUL", threat: "C-string truncation downstream", req: get("{images}?name=a%00b"), status: 400, typ: "bad_query"},
		attackCase{cat: "queries", name: "invalid UTF-8", threat: "UTF-8 and Latin-1 readers disagree", req: get("{images}?name=%ff"), status: 400, typ: "bad_query"},
		attackCase{cat: "queries", name: "raw non-ASCII", threat: "UTF-8 and Latin-1 readers disagree", req: get("{images}?name=\u00e9"), status: 400, typ: "bad_query"},
		attackCase{cat: "queries", name: "empty parameter", threat: "a=1&&b read as a parameter with an empty name", req: get("{images}?limit=1&&owner=1000"), status: 400, typ: "bad_query"},
		attackCase{cat: "queries", name: "raw fragment marker", threat: "fragment read as a value", req: get("{images}?owner=2000#&owner=1000"), status: 400, typ: "bad_query"},
		attackCase{cat: "queries", name: "thousands of parameters", threat: "parameters the policy never saw; parser cost", req: get("{images}?" + many("p%d=1", "&", 2000)), status: 400, typ: "too_many_params"},
		attackCase{cat: "queries", name: "parameters at the limit", threat: "the limit counts exactly", req: get("{images}?" + many("tag=t%d", "&", 64)), status: 200,
			forward: "GET {images}?" + many("tag=t%d", "&", 64), only: "glance"},
		attackCase{cat: "queries", name: "marker of another tenant's image", threat: "existence oracle through pagination", req: get("{images}?marker=" + imageapi.DemoImagePrivateA), status: 400, typ: "bad_marker", only: "glance"},
		attackCase{cat: "queries", name: "forged sealed marker", threat: "pagination marker forged for another tenant", req: get("{images}?marker=ig1.MDAwMDEwMDAtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAy.AAAAAAAAAAAAAAAAAAAAAA"), status: 400, typ: "bad_marker", only: "glance"},
		attackCase{cat: "queries", name: "filter on another tenant's private images", threat: "list filters widen what is returned", req: get("{images}?owner=1000&visibility=private"), status: 200,
			forward: "GET {images}?owner=1000&visibility=private", only: "glance"},
		attackCase{cat: "queries", name: "repeated visibility", threat: "policy and upstream read different copies", req: get("{images}?visibility=private&visibility=all&member_status=all"), status: 400, typ: "bad_request", only: "glance"},
	)

	// Headers: client identity never reaches the upstream.
	spoof := []string{
		"X-Roles: admin", "x-roles: admin", "X_Roles: admin", "X.Roles: admin", "X-ROLES: admin",
		"X-Project-Id: 1000", "X_Project_Id: 1000", "X-Tenant-Id: 1000", "X-User-Id: root",
		"X-Identity-Status: Confirmed", "X-Service-Roles: admin", "X-Domain-Id: default",
		"OpenStack-System-Scope: all", "X-Is-Admin-Project: True", "X-Openstack-Request-Id: req-spoofed",
	}
	add(
		attackCase{cat: "headers", name: "spoofed identity on another tenant's image", threat: "client-set identity trusted by the upstream",
			req: get("{victim}", spoof...), status: 404, typ: "not_found"},
		attackCase{cat: "headers", name: "spoofed identity on a list", threat: "client-set identity trusted by the upstream",
			req: get("{images}", spoof...), status: 200, forward: "GET {images}", check: checkIdentityHeaders},
		attackCase{cat: "headers", name: "Connection lists the identity headers", threat: "hop-by-hop removal strips the proxy's own identity headers",
			req: get("{images}", "Connection: X-Roles, X-Project-Id, X-Identity-Status, X-User-Id", "Keep-Alive: X-Roles"), status: 200, forward: "GET {images}", check: checkIdentityHeaders},
		attackCase{cat: "headers", name: "forwarding headers", threat: "X-Forwarded-* and friends trusted without a trusted proxy",
			req: get("{images}", "X-Forwarded-For: 10.0.0.1", "X-Forwarded-Host: evil.example", "X-Forwarded-Proto: https",
				"X-Forwarded-Prefix: /evil", "X-Forwarded-Port: 1", "X-Forwarded-Server: evil", "Forwarded: for=10.0.0.1;host=evil.example",
				"X-Real-Ip: 10.0.0.1", "X-Original-URL: {victim}", "X-Rewrite-URL: {victim}", "X-Original-Host: evil.example"),
			status: 200, forward: "GET {images}", check: checkNoForwardingHeaders},
		attackCase{cat: "headers", name: "Host of another service", threat: "Host header passed to the upstream",
			req: get("{images}", "Host: evil.example"), status: 200, forward: "GET {images}",
			check: func(t *testing.T, c *corpusEnv, _ *http.Response, _ []byte, fwd []imageapi.RecordedRequest) {
				if len(fwd) == 1 && fwd[0].Host != strings.TrimPrefix(c.p.Upstream.URL, "http://") {
					t.Errorf("the upstream received Host %q", fwd[0].Host)
				}
			}},
		attackCase{cat: "headers", name: "two Host headers", threat: "proxy and upstream read different hosts",
			req: get("{images}", "Host: a.example", "Host: b.example"), status: 400, server: true},
		attackCase{cat: "headers", name: "two Content-Length values", threat: "request smuggling", req: send("POST", "{images}", `{"name":"x"}`, ctJSON, "Content-Length: 12", "Content-Length: 3"),
			status: 400, server: true},
		attackCase{cat: "headers", name: "Content-Length with chunked", threat: "request smuggling (CL.TE)", only: "glance",
			req: rawRequest{Method: "POST", Target: "{images}", NoLength: true, Header: []string{ctJSON, "Content-Length: 4", "Transfer-Encoding: chunked"},
				Body: "c\r\n{\"name\":\"x\"}\r\n0\r\n\r\n"}, status: 201, forward: "POST {images}"},
		attackCase{cat: "headers", name: "unknown transfer coding", threat: "request smuggling (TE obfuscation)",
			req: rawRequest{Method: "POST", Target: "{images}", NoLength: true, Header: []string{ctJSON, "Transfer-Encoding: chunked, identity"},
				Body: "c\r\n{\"name\":\"x\"}\r\n0\r\n\r\n"}, status: 501, server: true},
		attackCase{cat: "headers", name: "obsolete line folding", threat: "a folded header read as two by the upstream",
			req: get("{images}", "X-Custom: a", " X-Roles: admin"), status: 200, forward: "GET {images}", check: checkIdentityHeaders},
		attackCase{cat: "headers", name: "space before colon", threat: "header name read differently", req: get("{images}", "X-Roles : admin"), status: 400, server: true},
		attackCase{cat: "headers", name: "request id injection", threat: "log injection through X-Request-Id",
			req: get("{images}", "X-Request-Id: evil\" injected=\"1"), status: 200, forward: "",
			check: func(t *testing.T, _ *corpusEnv, resp *http.Response, _ []byte, _ []imageapi.RecordedRequest) {
				if rid := resp.Header.Get("X-Request-Id"); strings.ContainsAny(rid, "\" =") {
					t.Errorf("request id %q was taken from the client", rid)
				}
			}},
	)

	// Bodies: the policy decides on exactly the bytes the upstream reads.
	add(
		attackCase{cat: "bodies", name: "invalid JSON", threat: "parser differential", req: send("POST", "{images}", `{"name": "x",}`, ctJSON), status: 400, typ: "bad_body"},
		attackCase{cat: "bodies", name: "duplicate keys", threat: "policy reads one value, the upstream the other", req: send("POST", "{images}", `{"name":"a","visibility":"private","visibility":"public"}`, ctJSON), status: 400, typ: "bad_body"},
		attackCase{cat: "bodies", name: "duplicate member", threat: "policy reads one member, the upstream the other", only: "glance",
			req: send("POST", "{own}/members", `{"member":"3000","member":"1000"}`, ctJSON), status: 400, typ: "bad_body"},
		attackCase{cat: "bodies", name: "nested duplicate keys", threat: "parser differential", req: send("POST", "{images}", `{"name":"a","x":{"k":1,"k":2}}`, ctJSON), status: 400, typ: "bad_body"},
		attackCase{cat: "bodies", name: "escaped duplicate key", threat: "keys equal after unescaping", req: send("POST", "{images}", `{"visibility":"private","vis\u0069bility":"public"}`, ctJSON), status: 400, typ: "bad_body"},
		attackCase{cat: "bodies", name: "trailing document", threat: "second document read by a streaming parser", req: send("POST", "{images}", `{"name":"a"} {"visibility":"public"}`, ctJSON), status: 400, typ: "bad_body"},
		attackCase{cat: "bodies", name: "invalid UTF-8", threat: "replacement characters hide a value", req: send("POST", "{images}", "{\"name\":\"\xff\"}", ctJSON), status: 400, typ: "bad_body"},
		attackCase{cat: "bodies", name: "huge body", threat: "memory exhaustion", req: send("POST", "{images}", `{"name":"`+strings.Repeat("a", 200<<10)+`"}`, ctJSON), status: 413, typ: "body_too_large"},
		attackCase{cat: "bodies", name: "deep nesting", threat: "JSON bomb: parser and policy cost", req: send("POST", "{images}", strings.Repeat("[", 20000)+strings.Repeat("]", 20000), ctJSON), status: 400, typ: "bad_body"},
		attackCase{cat: "bodies", name: "deep objects", threat: "JSON bomb: parser and policy cost", req: send("POST", "{images}", strings.Repeat(`{"a":`, 5000)+"1"+strings.Repeat("}", 5000), ctJSON), status: 400, typ: "bad_body"},
		attackCase{cat: "bodies", name: "wrong content type", threat: "body read as another format", req: send("POST", "{images}", `{"name":"x"}`, "Content-Type: text/plain"), status: 415, typ: "unsupported_media_type"},
		attackCase{cat: "bodies", name: "form body", threat: "body read as another format", req: send("POST", "{images}", `name=x&visibility=public`, "Content-Type: application/x-www-form-urlencoded"), status: 415, typ: "unsupported_media_type"},
		attackCase{cat: "bodies", name: "malformed content type", threat: "media type parsed differently", req: send("POST", "{images}", `{"name":"x"}`, "Content-Type: application/json; ; =="), status: 400, typ: "bad_body"},
		attackCase{cat: "bodies", name: "body on a GET", threat: "a body the policy never saw", req: send("GET", "{images}", `{"visibility":"all"}`, ctJSON), status: 400, typ: "bad_body"},
		attackCase{cat: "bodies", name: "chunked body on a DELETE", threat: "a body the policy never saw",
			req: rawRequest{Method: "DELETE", Target: "{own}", NoLength: true, Header: []string{"Transfer-Encoding: chunked"}, Body: "2\r\n{}\r\n0\r\n\r\n"}, status: 400, typ: "bad_body"},
		attackCase{cat: "bodies", name: "PATCH as plain JSON", threat: "patch read as a merge document", only: "glance",
			req: send("PATCH", "{own}", `[{"op":"replace","path":"/name","value":"x"}]`, ctJSON), status: 415, typ: "unsupported_media_type"},
		attackCase{cat: "bodies", name: "PATCH owner", threat: "image handed to another tenant", only: "glance",
			req: send("PATCH", "{own}", `[{"op":"replace","path":"/owner","value":"1000"}]`, ctPatch), status: 403, typ: "forbidden"},
		attackCase{cat: "bodies", name: "PATCH visibility public", threat: "publicize without the admin role", only: "glance",
			req: send("PATCH", "{own}", `[{"op":"replace","path":"/visibility","value":"public"}]`, ctPatch), status: 403, typ: "forbidden"},
		attackCase{cat: "bodies", name: "PATCH status", threat: "read-only property changed", only: "glance",
			req: send("PATCH", "{own}", `[{"op":"replace","path":"/status","value":"active"}]`, ctPatch), status: 403, typ: "forbidden"},
		attackCase{cat: "bodies", name: "PATCH locations", threat: "image data pointed elsewhere", only: "glance",
			req: send("PATCH", "{own}", `[{"op":"add","path":"/locations/-","value":{"url":"file:///etc/passwd","metadata":{}}}]`, ctPatch), status: 403, typ: "forbidden"},
		attackCase{cat: "bodies", name: "PATCH move from owner", threat: "op outside the accepted set", only: "glance",
			req: send("PATCH", "{own}", `[{"op":"move","from":"/owner","path":"/name"}]`, ctPatch), status: 400, typ: "bad_body"},
		attackCase{cat: "bodies", name: "PATCH bad pointer escape", threat: "pointer decoded differently", only: "glance",
			req: send("PATCH", "{own}", `[{"op":"replace","path":"/own~2er","value":"1000"}]`, ctPatch), status: 400, typ: "bad_body"},
		attackCase{cat: "bodies", name: "PATCH pointer with empty token", threat: "pointer decoded differently", only: "glance",
			req: send("PATCH", "{own}", `[{"op":"replace","path":"/owner/","value":"1000"}]`, ctPatch), status: 400, typ: "bad_body"},
		attackCase{cat: "bodies", name: "PATCH another tenant's image", threat: "write to a foreign image", only: "glance",
			req: send("PATCH", "{victim}", `[{"op":"replace","path":"/name","value":"x"}]`, ctPatch), status: 404, typ: "not_found"},
		attackCase{cat: "bodies", name: "PATCH a custom property named Visibility", threat: "a case variant of a core property read as the core property",
			only: "glance", req: send("PATCH", "{own}", `[{"op":"add","path":"/Visibility","value":"public"},{"op":"add","path":"/Owner","value":"1000"}]`, ctPatch),
			status: 200, forward: "PATCH {own}"},
		attackCase{cat: "bodies", name: "member accepted by the owner", threat: "owner accepts on the member's behalf", only: "glance",
			req: send("PUT", "{own}/members/1000", `{"status":"accepted"}`, ctJSON), status: 403, typ: "forbidden"},
		attackCase{cat: "bodies", name: "member added to a foreign image", threat: "sharing another tenant's image", only: "glance",
			req: send("POST", "{victim}/members", `{"member":"2000"}`, ctJSON), status: 404, typ: "not_found"},
		attackCase{cat: "bodies", name: "create with an owner", threat: "image created in another tenant", only: "glance",
			req: send("POST", "{images}", `{"name":"x","owner":"1000"}`, ctJSON), status: 403, typ: "forbidden"},
		attackCase{cat: "bodies", name: "create public", threat: "publicize without the admin role", only: "glance",
			req: send("POST", "{images}", `{"name":"x","visibility":"public"}`, ctJSON), status: 403, typ: "forbidden"},
		attackCase{cat: "bodies", name: "upload to a foreign image", threat: "data written into another tenant's image", only: "glance",
			req: send("PUT", "{victim}/file", "data", "Content-Type: application/octet-stream"), status: 404, typ: "not_found"},
	)
	// The list an attacker gets after the property trick must still hide the image.
	add(attackCase{cat: "bodies", name: "list after the Visibility property", threat: "a case variant of a core property read as the core property",
		only: "glance", req: get("{images}?limit=100"), token: func(t *testing.T, c *corpusEnv) string {
			return c.p.Token(t, "4000", "member")
		}, status: 200, forward: "GET {images}?limit=100",
		check: func(t *testing.T, _ *corpusEnv, _ *http.Response, body []byte, _ []imageapi.RecordedRequest) {
			if strings.Contains(string(body), imageapi.DemoImagePrivateB) {
				t.Errorf("tenant 4000 sees tenant 2000's private image: %.300s", body)
			}
		}})

	// Upstream: what the upstream answers is checked before the client sees it.
	add(
		attackCase{cat: "upstream", name: "reset in a list answer", threat: "a cut answer forwarded as complete", req: get("{images}"), fault: faultResetList,
			status: 502, typ: "upstream_bad_response", forward: "GET {images}"},
		attackCase{cat: "upstream", name: "reset in image data", threat: "a cut download taken for a complete one", only: "glance",
			req: get("{own}/file"), fault: faultResetData, status: 200, forward: "GET {own}/file",
			check: func(t *testing.T, c *corpusEnv, resp *http.Response, _ []byte, _ []imageapi.RecordedRequest) {
				ev, ok := c.p.event(t, resp.Header.Get("X-Request-Id"))
				if !ok || ev.Result.Code == "" {
					t.Errorf("the decision event of a cut download does not say it was cut: %+v", ev.Result)
				}
			}},
		attackCase{cat: "upstream", name: "slow headers", threat: "a slow upstream holds requests forever", req: get("{images}"), fault: faultSlowHeaders,
			status: 504, typ: "upstream_timeout", forward: "GET {images}"},
		attackCase{cat: "upstream", name: "images not an array", threat: "an answer the filter cannot read forwarded unfiltered", req: get("{images}"), fault: faultBadShape,
			status: 502, typ: "upstream_bad_response", forward: "GET {images}"},
		attackCase{cat: "upstream", name: "item without visibility", threat: "an item the filter cannot judge forwarded", req: get("{images}"), fault: faultNoVisibility,
			status: 502, typ: "upstream_bad_response", forward: "GET {images}"},
		attackCase{cat: "upstream", name: "encoded answer", threat: "an answer the filter cannot read forwarded unfiltered", req: get("{images}"), fault: faultGzip,
			status: 502, typ: "upstream_bad_response", forward: "GET {images}"},
		attackCase{cat: "upstream", name: "oversized answer", threat: "memory exhaustion through the filter", req: get("{images}"), fault: faultHuge,
			status: 502, typ: "upstream_bad_response", forward: "GET {images}"},
		attackCase{cat: "upstream", name: "answer about another image", threat: "the upstream answers for an image not decided on", req: get("{own}"), fault: faultWrongImage,
			status: 502, typ: "upstream_bad_response", forward: "GET {own}"},
		attackCase{cat: "upstream", name: "hidden image repeating a visible id", threat: "a hidden item rides on the visibility of another with its id",
			req: get("{images}"), fault: faultDuplicateID, status: 502, typ: "upstream_bad_response", forward: "GET {images}"},
		attackCase{cat: "upstream", name: "case variant of a core field", threat: "a custom property Visibility read as the core visibility",
			only: "glance", req: get("{images}"), fault: faultCaseVariant, status: 200, forward: "GET {images}"},
		attackCase{cat: "upstream", name: "foreign images in a list", threat: "an upstream that does not filter (service identity)", only: "glance", req: get("{images}"), fault: faultForeignInList,
			status: 200, forward: "GET {images}",
			check: func(t *testing.T, _ *corpusEnv, _ *http.Response, body []byte, _ []imageapi.RecordedRequest) {
				if !strings.Contains(string(body), imageapi.DemoImagePrivateB) {
					t.Errorf("the attacker's own image was filtered out: %.300s", body)
				}
			}},
	)
	return cases
}

// checkIdentityHeaders: the upstream got exactly the proxy's identity headers, once each.
func checkIdentityHeaders(t *testing.T, c *corpusEnv, _ *http.Response, _ []byte, fwd []imageapi.RecordedRequest) {
	t.Helper()
	if len(fwd) != 1 {
		return
	}
	h := fwd[0].Header
	tenant, _ := c.profile.claims["project_id"].(string)
	want := map[string]string{
		"X-Project-Id": tenant, "X-User-Id": "user-" + tenant, "X-Identity-Status": "Confirmed",
	}
	if c.dialect == config.DialectGlance {
		want["X-Roles"] = "member,reader"
		if c.mode == config.ModeService {
			want["X-Roles"] = "admin,member,reader"
		}
	} else if vs := h.Values("X-Roles"); len(vs) != 1 || strings.Contains(vs[0], "admin") && c.mode != config.ModeService {
		t.Errorf("upstream X-Roles = %q", vs)
	}
	for k, v := range want {
		if vs := h.Values(k); len(vs) != 1 || vs[0] != v {
			t.Errorf("upstream %s = %q, want exactly %q", k, vs, v)
		}
	}
	if rid := h.Get("X-Openstack-Request-Id"); rid == "req-spoofed" {
		t.Errorf("the client's X-Openstack-Request-Id reached the upstream")
	}
	for name := range h {
		n := strings.ToLower(name)
		if strings.ContainsAny(name, "_.") || strings.Contains(n, "domain") || strings.Contains(n, "scope") ||
			strings.Contains(n, "service") || strings.Contains(n, "tenant") || n == "x-is-admin-project" ||
			n == "x-auth-token" || n == "authorization" {
			t.Errorf("upstream received %s: %q", name, h[name])
		}
	}
}

// checkNoForwardingHeaders: no client claim about the path, host or client address
// reaches the upstream (no trusted proxies are configured).
func checkNoForwardingHeaders(t *testing.T, _ *corpusEnv, _ *http.Response, _ []byte, fwd []imageapi.RecordedRequest) {
	t.Helper()
	if len(fwd) != 1 {
		return
	}
	for name, vs := range fwd[0].Header {
		n := strings.ToLower(name)
		if strings.HasPrefix(n, "x-forwarded-") || n == "forwarded" || n == "x-real-ip" ||
			strings.HasPrefix(n, "x-original-") || n == "x-rewrite-url" {
			t.Errorf("upstream received %s: %q", name, vs)
		}
	}
}
