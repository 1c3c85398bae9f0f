package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/imagegate/imagegate/authn"
)

// EnvPrefix starts every environment variable that overrides a configuration key.
const EnvPrefix = "IMAGEGATE_"

// Duration is a time.Duration written as "30s", "5m" in YAML and the environment.
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (want e.g. 30s, 5m)", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// applyEnv overrides keys from IMAGEGATE_… variables. The variable name is the key path in
// upper case with "_" between levels (IMAGEGATE_UPSTREAM_URL for upstream.url); list
// elements take their index (IMAGEGATE_AUTH_ISSUERS_0_ISSUER); string lists take a comma
// separated value; maps take the key in the name (IMAGEGATE_UPSTREAM_ROLE_MAP_ADMIN is not
// supported: set maps in the file). A variable with the prefix that names no key is an
// error, so a typo cannot silently leave a setting at its default.
func applyEnv(cfg *Config, environ []string) error {
	targets := map[string]reflect.Value{}
	collectEnvTargets(reflect.ValueOf(cfg).Elem(), strings.TrimSuffix(EnvPrefix, "_"), targets)
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		if ignoredEnv[name] {
			continue
		}
		v, found := targets[name]
		if !found {
			if v, found = growListTarget(cfg, name); found {
				// The new list element moved the slice: find the leaves again.
				targets = map[string]reflect.Value{}
				collectEnvTargets(reflect.ValueOf(cfg).Elem(), strings.TrimSuffix(EnvPrefix, "_"), targets)
			}
		}
		if !found {
			return fmt.Errorf("environment variable %s names no configuration key", name)
		}
		if err := setFromString(v, value); err != nil {
			return fmt.Errorf("environment variable %s: %w", name, err)
		}
	}
	return nil
}

// ignoredEnv are IMAGEGATE_ variables that are not configuration keys.
var ignoredEnv = map[string]bool{
	"IMAGEGATE_CONFIG":             true,
	"IMAGEGATE_SKIP_GLANCE":        true,
	"IMAGEGATE_TEST_BINARY":        true,
	"IMAGEGATE_BENCH_DURATION":     true,
	"IMAGEGATE_E2E_KEEP":           true,
	"IMAGEGATE_FUZZTIME":           true,
	"IMAGEGATE_INTEGRATION_BINARY": true,
}

// collectEnvTargets walks the struct by its yaml tags and records every settable leaf.
func collectEnvTargets(v reflect.Value, prefix string, out map[string]reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		fv := v.Field(i)
		if isLeaf(fv) {
			out[name] = fv
			continue
		}
		switch fv.Kind() {
		case reflect.Struct:
			collectEnvTargets(fv, name, out)
		case reflect.Slice:
			for j := 0; j < fv.Len(); j++ {
				el := fv.Index(j)
				if el.Kind() == reflect.Struct {
					collectEnvTargets(el, fmt.Sprintf("%s_%d", name, j), out)
				}
			}
		}
	}
}

// growListTarget lets IMAGEGATE_AUTH_ISSUERS_0_ISSUER create the first issuer when the file
// has none, so a file-less deployment can be configured from the environment alone.
func growListTarget(cfg *Config, name string) (reflect.Value, bool) {
	const issuers = EnvPrefix + "AUTH_ISSUERS_"
	rest, ok := strings.CutPrefix(name, issuers)
	if !ok {
		return reflect.Value{}, false
	}
	idxStr, _, ok := strings.Cut(rest, "_")
	idx, err := strconv.Atoi(idxStr)
	if !ok || err != nil || idx != len(cfg.Auth.Issuers) {
		return reflect.Value{}, false
	}
	cfg.Auth.Issuers = append(cfg.Auth.Issuers, defaultIssuer())
	targets := map[string]reflect.Value{}
	collectEnvTargets(reflect.ValueOf(cfg).Elem(), strings.TrimSuffix(EnvPrefix, "_"), targets)
	v, found := targets[name]
	if !found {
		cfg.Auth.Issuers = cfg.Auth.Issuers[:idx]
	}
	return v, found
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

func isLeaf(v reflect.Value) bool {
	if v.CanAddr() && v.Addr().Type().Implements(textUnmarshaler) {
		return true
	}
	switch v.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		return true
	case reflect.Slice:
		return v.Type().Elem().Kind() == reflect.String
	}
	return false
}

func setFromString(v reflect.Value, s string) error {
	if v.CanAddr() && v.Addr().Type().Implements(textUnmarshaler) {
		return v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", s)
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("want a number, got %q", s)
		}
		v.SetFloat(f)
	case reflect.Slice:
		var items []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				items = append(items, p)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// defaultIssuer is the issuer an IMAGEGATE_AUTH_ISSUERS_N_… variable creates; authn fills
// in its own defaults when it starts.
func defaultIssuer() authn.IssuerConfig { return authn.IssuerConfig{} }

// String writes the duration as a Go duration string.
func (d Duration) String() string { return time.Duration(d).String() }
