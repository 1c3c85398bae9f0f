package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/imagegate/imagegate/authn"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/ with the current output")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/imagegate -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./cmd/imagegate -run %s -update rewrites it)\n--- got\n%s\n--- want\n%s",
			path, t.Name(), got, want)
	}
}

// runCheckCLI runs `imagegate check args…` and returns its output and exit status.
func runCheckCLI(t *testing.T, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	var out, errOut bytes.Buffer
	status = run(context.Background(), append([]string{"check"}, args...), &out, &errOut)
	return out.String(), errOut.String(), status
}

const (
	testPolicy = "testdata/check/policy"
	readerP1   = `{"sub":"u-1","project_id":"p1","roles":["reader"]}`
	memberP1   = `{"sub":"u-1","project_id":"p1","roles":["member"]}`
)

// The golden cases run against testdata/check/policy, a small policy that does not
// change with the shipped ones, so that the rules and lines reported stay put.
func TestCheckGolden(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		status int
	}{
		{"deny_role.txt", []string{"--policy-dir", testPolicy, "--method", "POST", "--path", "/v2/images",
			"--claims", readerP1, "--body", `{"name":"debian-12","visibility":"private"}`}, checkDeny},
		{"hidden.txt", []string{"--policy-dir", testPolicy, "--path", "/v2/images/img-2",
			"--claims", readerP1, "--image", `{"id":"img-2","owner":"p2","visibility":"private"}`}, checkDeny},
		{"allow_member.txt", []string{"--policy-dir", testPolicy, "--path", "/v2/images/img-2",
			"--claims", readerP1, "--image", `{"id":"img-2","owner":"p2","visibility":"shared"}`,
			"--membership", `{"member_id":"p1","status":"accepted"}`}, checkAllow},
		{"allow_list.json", []string{"--policy-dir", testPolicy, "--path", "/v2/images?limit=2&visibility=shared",
			"--claims", readerP1, "--format", "json"}, checkAllow},
		// Claims mapped through the configured issuer's nested claim paths, in service
		// mode, with a PATCH parsed as the proxy parses it.
		{"patch_config.json", []string{"--config", "testdata/check/config.yaml", "--method", "PATCH", "--path", "/v2/images/img-1",
			"--claims", `{"preferred_username":"dana","project":{"id":"p1"},"realm_access":{"roles":["member"]}}`,
			"--image", `{"id":"img-1","owner":"p1","visibility":"private"}`,
			"--body", `[{"op":"replace","path":"/owner","value":"p2"},{"op":"add","path":"/os_distro","value":"debian"}]`,
			"--format", "json"}, checkDeny},
		// Refusals before the policy: the router, authentication, the body.
		{"route_refused.txt", []string{"--policy-dir", testPolicy, "--path", "/v2/images/img-1/../img-2", "--claims", readerP1}, checkDeny},
		{"method_refused.txt", []string{"--policy-dir", testPolicy, "--method", "TRACE", "--path", "/v2/images", "--claims", readerP1}, checkDeny},
		{"authn_refused.txt", []string{"--policy-dir", testPolicy, "--path", "/v2/images", "--claims", `{"sub":"u-1","roles":["reader"]}`}, checkDeny},
		{"body_refused.txt", []string{"--policy-dir", testPolicy, "--method", "PATCH", "--path", "/v2/images/img-1",
			"--claims", memberP1, "--body", `[{"op":"replace","path":"/name","value":"a","value":"b"}]`}, checkDeny},
	}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.name, filepath.Ext(c.name)), func(t *testing.T) {
			out, errOut, status := runCheckCLI(t, c.args...)
			if status != c.status {
				t.Fatalf("exit status %d, want %d; stderr: %s\n%s", status, c.status, errOut, out)
			}
			if errOut != "" {
				t.Errorf("stderr: %s", errOut)
			}
			golden(t, filepath.Join("check", c.name), out)
		})
	}
}

// Against the shipped policies, the checks assert what must hold whatever their lines:
// the verdict, the code, a reason, and the rule it came from.
func TestCheckShippedPolicies(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		status   int
		code     string
		reason   string
		fromRule string
	}{
		{"reader may not create", []string{"--method", "POST", "--path", "/v2/images", "--claims", readerP1, "--body", `{"name":"x"}`},
			checkDeny, "forbidden", "no role of [reader] grants images.create", "data.imagegate.roles.reasons"},
		{"another tenant's private image is hidden", []string{"--path", "/v2/images/img-2", "--claims", memberP1,
			"--image", `{"id":"img-2","owner":"p2","visibility":"private","status":"active"}`},
			checkDeny, "not_found", "no image img-2 visible to tenant p1", "data.imagegate.visibility.concealed"},
		{"no such image is hidden too", []string{"--path", "/v2/images/img-9", "--claims", memberP1},
			checkDeny, "not_found", "", ""},
		{"an accepted member reads a shared image", []string{"--path", "/v2/images/img-2", "--claims", readerP1,
			"--image", `{"id":"img-2","owner":"p2","visibility":"shared","status":"active"}`,
			"--membership", `{"member_id":"p1","status":"accepted"}`},
			checkAllow, "", "role reader grants images.get", "data.imagegate.roles.reasons"},
		{"the owner shares its image", []string{"--method", "POST", "--path", "/v2/images/img-1/members", "--claims", memberP1,
			"--image", `{"id":"img-1","owner":"p1","visibility":"shared","status":"active"}`, "--body", `{"member":"p2"}`},
			checkAllow, "", "", ""},
		{"a member may not make an image public", []string{"--method", "PATCH", "--path", "/v2/images/img-1", "--claims", memberP1,
			"--image", `{"id":"img-1","owner":"p1","visibility":"private","status":"active"}`,
			"--body", `[{"op":"replace","path":"/visibility","value":"public"}]`},
			checkDeny, "forbidden", "only a cloud admin makes an image public", "data.imagegate.images.forbidden"},
		{"service mode filters lists", []string{"--mode", "service", "--path", "/v2/images?limit=5", "--claims", readerP1},
			checkAllow, "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, status := runCheckCLI(t, append(c.args, "--format", "json")...)
			if status != c.status {
				t.Fatalf("exit status %d, want %d; stderr: %s\n%s", status, c.status, errOut, out)
			}
			var rep struct {
				Stage    string `json:"stage"`
				Decision struct {
					Allow   bool     `json:"allow"`
					Code    string   `json:"code"`
					Reasons []string `json:"reasons"`
				} `json:"decision"`
				Rules []firedRule `json:"rules"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			if rep.Stage != stagePolicy {
				t.Errorf("decided at %q, want the policy", rep.Stage)
			}
			if rep.Decision.Code != c.code {
				t.Errorf("code %q, want %q", rep.Decision.Code, c.code)
			}
			if c.reason != "" && !contains(rep.Decision.Reasons, c.reason) {
				t.Errorf("reasons %q lack %q", rep.Decision.Reasons, c.reason)
			}
			if c.fromRule != "" {
				found := false
				for _, r := range rep.Rules {
					if r.Rule == c.fromRule && r.Reason && r.Value == c.reason {
						found = true
					}
				}
				if !found {
					t.Errorf("no rule %s gave the reason %q; rules: %+v", c.fromRule, c.reason, rep.Rules)
				}
			}
			if len(rep.Rules) == 0 || !strings.HasPrefix(rep.Rules[0].Location, "decision.rego:") && !hasRule(rep.Rules, "data.imagegate.decision") {
				t.Errorf("the decision rule is not among the rules that evaluated true: %+v", rep.Rules)
			}
		})
	}
}

// --token is verified by the configured issuers, exactly as the proxy verifies it.
func TestCheckToken(t *testing.T) {
	signer, err := authn.NewRSASigner("k1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	jwks, err := signer.PublicJWKS()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "jwks.json"), jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	// A relative key file is found beside the configuration, as serve finds it.
	cfg := `upstream: {url: "http://127.0.0.1:9292"}
auth:
  issuers:
    - issuer: https://tokens.test
      audience: [imagegate]
      algorithms: [RS256]
      key_files: [jwks.json]
`
	cfgPath := filepath.Join(dir, "imagegate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	mint := func(exp time.Time) string {
		tok, err := signer.Sign(jwt.MapClaims{"iss": "https://tokens.test", "aud": "imagegate", "sub": "u-1",
			"project_id": "p1", "roles": []string{"member"}, "exp": exp.Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tokFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokFile, []byte(mint(time.Now().Add(time.Hour))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	out, errOut, status := runCheckCLI(t, "--config", cfgPath, "--method", "POST", "--path", "/v2/images",
		"--token", "@"+tokFile, "--body", `{"name":"x"}`)
	if status != checkAllow || !strings.HasPrefix(out, "ALLOW 200") || !strings.Contains(out, "user u-1, tenant p1, roles [member]") {
		t.Fatalf("valid token: status %d, stderr %s\n%s", status, errOut, out)
	}

	out, errOut, status = runCheckCLI(t, "--config", cfgPath, "--path", "/v2/images",
		"--token", mint(time.Now().Add(-time.Hour)))
	if status != checkDeny || !strings.HasPrefix(out, "DENY 401 token_expired  (refused by authentication") {
		t.Fatalf("expired token: status %d, stderr %s\n%s", status, errOut, out)
	}

	// Claims given with --claims follow the same issuer's mapping.
	out, errOut, status = runCheckCLI(t, "--config", cfgPath, "--path", "/v2/images",
		"--claims", `{"iss":"https://tokens.test","sub":"u-2","project_id":"p2","roles":"reader observer"}`)
	if status != checkAllow || !strings.Contains(out, "user u-2, tenant p2, roles [reader, observer]") {
		t.Fatalf("claims: status %d, stderr %s\n%s", status, errOut, out)
	}
}

// --explain prints OPA's trace; its exact lines depend on OPA's version, so only its
// presence and shape are checked.
func TestCheckExplain(t *testing.T) {
	out, errOut, status := runCheckCLI(t, "--policy-dir", testPolicy, "--path", "/v2/images/img-2",
		"--claims", readerP1, "--image", `{"id":"img-2","owner":"p2","visibility":"private"}`, "--explain")
	if status != checkDeny {
		t.Fatalf("status %d, stderr %s", status, errOut)
	}
	if !strings.Contains(out, "\nexplanation (OPA trace)\n") || !strings.Contains(out, "Enter data.imagegate.decision") ||
		!strings.Contains(out, "decision.rego:") {
		t.Fatalf("no trace:\n%s", out)
	}
	full := strings.Count(out, "\n")

	out, _, _ = runCheckCLI(t, "--policy-dir", testPolicy, "--path", "/v2/images/img-2",
		"--claims", readerP1, "--image", `{"id":"img-2","owner":"p2","visibility":"private"}`, "--explain=fails", "--format", "json")
	var rep checkReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Explanation) == 0 || len(rep.Explanation) >= full {
		t.Fatalf("--explain=fails gave %d lines, the full trace %d", len(rep.Explanation), full)
	}
	for _, l := range rep.Explanation {
		if !strings.Contains(l, "Fail") && !strings.Contains(l, "Enter") && !strings.Contains(l, "Exit") {
			t.Fatalf("--explain=fails line %q", l)
		}
	}
}

// Usage and input errors exit 2 and say what is wrong, on stderr only.
func TestCheckUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no path", []string{"--claims", readerP1}, "--path is required"},
		{"no caller", []string{"--path", "/v2/images"}, "give one of --claims or --token"},
		{"two callers", []string{"--path", "/v2/images", "--claims", readerP1, "--token", "x"}, "give one of --claims or --token"},
		{"claims not JSON", []string{"--path", "/v2/images", "--claims", "{"}, "--claims: want a JSON object"},
		{"claims file missing", []string{"--path", "/v2/images", "--claims", "@testdata/check/nope.json"}, "--claims: open testdata/check/nope.json"},
		{"unknown issuer", []string{"--path", "/v2/images", "--claims", `{"iss":"https://evil","project_id":"p1","sub":"u"}`}, `iss "https://evil" is no configured issuer`},
		{"image not an object", []string{"--path", "/v2/images/x", "--claims", readerP1, "--image", `[1]`}, "--image: not the JSON expected"},
		{"membership unknown field", []string{"--path", "/v2/images/x", "--claims", readerP1, "--membership", `{"state":"x"}`}, "--membership: not the JSON expected"},
		{"bad format", []string{"--path", "/v2/images", "--claims", readerP1, "--format", "yaml"}, "--format: want text or json"},
		{"bad explain", []string{"--path", "/v2/images", "--claims", readerP1, "--explain=everything"}, "want full, fails or notes"},
		{"bad mode", []string{"--path", "/v2/images", "--claims", readerP1, "--mode", "open"}, "--mode: want delegated or service"},
		{"missing policy", []string{"--path", "/v2/images", "--claims", readerP1, "--policy-dir", "testdata/check/none"}, "testdata/check/none"},
		// The policy is read first: a refusal by the router does not hide a broken policy.
		{"missing policy, path refused", []string{"--path", "/v2//images", "--claims", readerP1, "--policy-dir", "testdata/check/none"}, "testdata/check/none"},
		{"bad image, path refused", []string{"--path", "/v2//images", "--claims", readerP1, "--image", "{"}, "--image"},
		{"broken config", []string{"--path", "/v2/images", "--claims", readerP1, "--config", "testdata/check/policy/data.json"}, "config testdata/check/policy/data.json"},
		{"stray argument", []string{"--path", "/v2/images", "--claims", readerP1, "extra"}, "unexpected arguments"},
		{"token without issuers", []string{"--path", "/v2/images", "--token", "a.b.c"}, "--token needs a configuration with auth.issuers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, status := runCheckCLI(t, c.args...)
			if status != checkError {
				t.Fatalf("exit status %d, want %d; stdout %s", status, checkError, out)
			}
			if out != "" {
				t.Errorf("stdout: %s", out)
			}
			if !strings.Contains(errOut, c.want) {
				t.Errorf("stderr %q lacks %q", errOut, c.want)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func hasRule(rules []firedRule, name string) bool {
	for _, r := range rules {
		if r.Rule == name {
			return true
		}
	}
	return false
}
