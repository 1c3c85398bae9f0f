package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestEveryKeyDocumented keeps docs/configuration.md complete: every key that can be set
// from the environment must appear there by its variable name.
func TestEveryKeyDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	cfg.Auth.Issuers = append(cfg.Auth.Issuers, defaultIssuer())
	targets := map[string]reflect.Value{}
	collectEnvTargets(reflect.ValueOf(&cfg).Elem(), strings.TrimSuffix(EnvPrefix, "_"), targets)
	for name := range targets {
		documented := strings.ReplaceAll(name, "_ISSUERS_0_", "_ISSUERS_N_")
		if !strings.Contains(string(doc), "`"+documented+"`") {
			t.Errorf("docs/configuration.md does not document %s", documented)
		}
	}
}
