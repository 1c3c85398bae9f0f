package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/download"
	"github.com/open-policy-agent/opa/v1/keys"
	"github.com/open-policy-agent/opa/v1/plugins/rest"
)

// BundleConfig says where an OPA bundle is served and how it is verified.
type BundleConfig struct {
	// URL of the bundle service (OPA's "services" url), e.g. https://bundles.example.
	URL string
	// Resource is the bundle's path on the service, e.g. /bundles/imagegate.tar.gz.
	Resource string
	// MinDelay and MaxDelay bound the polling interval.
	MinDelay, MaxDelay time.Duration
	// PublicKeyFile verifies signed bundles (PEM public key, or the HMAC secret for HS*).
	// Empty: bundles are not verified.
	PublicKeyFile string
	// KeyID names the key in the bundle's signature (default "imagegate").
	KeyID string
	// Algorithm of the signature (default RS256).
	Algorithm string
	// Scope the signature must carry, if any.
	Scope string
}

// BundleWatcher keeps an engine's policy in step with an OPA bundle served over HTTP. It
// uses OPA's own downloader: ETag caching, long polling where the server offers it, size
// limits and signature verification.
type BundleWatcher struct {
	engine     *Engine
	downloader *download.Downloader
	first      chan error
}

// NewBundleWatcher prepares the download; Start begins it.
func NewBundleWatcher(e *Engine, cfg BundleConfig, log *slog.Logger) (*BundleWatcher, error) {
	restCfg, err := json.Marshal(map[string]any{"name": "imagegate-bundles", "url": cfg.URL})
	if err != nil {
		return nil, err
	}
	client, err := rest.New(restCfg, nil)
	if err != nil {
		return nil, fmt.Errorf("policy bundle: service %s: %w", cfg.URL, err)
	}
	minS, maxS := int64(cfg.MinDelay/time.Second), int64(cfg.MaxDelay/time.Second)
	if minS < 1 {
		minS = 1
	}
	if maxS < minS {
		maxS = minS
	}
	dcfg := download.Config{Polling: download.PollingConfig{MinDelaySeconds: &minS, MaxDelaySeconds: &maxS}}
	if err := dcfg.ValidateAndInjectDefaults(); err != nil {
		return nil, fmt.Errorf("policy bundle: polling: %w", err)
	}
	w := &BundleWatcher{engine: e, first: make(chan error, 1)}
	d := download.New(dcfg, client, cfg.Resource).
		WithBundleName("imagegate").
		WithCallback(func(ctx context.Context, u download.Update) error {
			err := w.activate(ctx, cfg, u)
			if err != nil {
				log.Error("policy bundle not activated; the previous policy stays in force",
					"url", cfg.URL+cfg.Resource, "revision", e.Revision(), "error", err)
			} else if u.Bundle != nil {
				log.Info("policy bundle activated", "url", cfg.URL+cfg.Resource, "revision", e.Revision())
			}
			select {
			case w.first <- err:
			default:
			}
			return err
		})
	if cfg.PublicKeyFile != "" {
		vc, err := verificationConfig(cfg)
		if err != nil {
			return nil, err
		}
		d = d.WithBundleVerificationConfig(vc)
	}
	w.downloader = d
	return w, nil
}

func verificationConfig(cfg BundleConfig) (*bundle.VerificationConfig, error) {
	key, err := os.ReadFile(cfg.PublicKeyFile)
	if err != nil {
		return nil, fmt.Errorf("policy bundle: public key: %w", err)
	}
	alg := cfg.Algorithm
	if alg == "" {
		alg = "RS256"
	}
	kid := cfg.KeyID
	if kid == "" {
		kid = "imagegate"
	}
	// Not keys.NewKeyConfig: it takes its argument for a file name first, and PEM text
	// with a long line between two slashes makes that look-up fail.
	kc := &keys.Config{Key: strings.TrimSpace(string(key)), Algorithm: alg, Scope: cfg.Scope}
	return bundle.NewVerificationConfig(map[string]*keys.Config{kid: kc}, kid, cfg.Scope, nil), nil
}

// activate turns a downloaded bundle into the engine's policy.
func (w *BundleWatcher) activate(ctx context.Context, cfg BundleConfig, u download.Update) error {
	if u.Error != nil {
		err := fmt.Errorf("policy bundle %s%s: %w", cfg.URL, cfg.Resource, u.Error)
		w.engine.failed(cfg.URL+cfg.Resource, err)
		return err
	}
	if u.Bundle == nil {
		return nil // not modified
	}
	set, err := SetFromBundle(cfg.URL+cfg.Resource, u.Bundle)
	if err != nil {
		w.engine.failed(cfg.URL+cfg.Resource, err)
		return err
	}
	return w.engine.Load(ctx, set)
}

// Start begins polling and waits up to timeout for the first bundle to be activated.
func (w *BundleWatcher) Start(ctx context.Context, timeout time.Duration) error {
	w.downloader.Start(ctx)
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case err := <-w.first:
			if err == nil && w.engine.Ready() {
				return nil
			}
			// Keep waiting: a failed first download is retried by the downloader.
		case <-t.C:
			st := w.engine.Status()
			if st.LastError != nil {
				return fmt.Errorf("no policy bundle activated within %s: %w", timeout, st.LastError)
			}
			return fmt.Errorf("no policy bundle activated within %s", timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Stop ends polling.
func (w *BundleWatcher) Stop(ctx context.Context) { w.downloader.Stop(ctx) }

// SetFromBundle turns an OPA bundle into a policy set; its manifest revision, when set,
// is the set's revision.
func SetFromBundle(name string, b *bundle.Bundle) (Set, error) {
	set := Set{Name: name, Modules: map[string]*ast.Module{}, Tests: map[string]*ast.Module{}, Data: b.Data}
	for _, m := range b.Modules {
		parsed := m.Parsed
		if parsed == nil {
			var err error
			if parsed, err = ast.ParseModuleWithOpts(m.Path, string(m.Raw), ast.ParserOptions{ProcessAnnotation: true}); err != nil {
				return Set{}, fmt.Errorf("policy bundle %s: %w", name, err)
			}
		}
		if strings.HasSuffix(m.Path, "_test.rego") {
			set.Tests[m.Path] = parsed
		} else {
			set.Modules[m.Path] = parsed
		}
	}
	if len(set.Modules) == 0 {
		return Set{}, errors.New("policy bundle " + name + " has no modules")
	}
	set.Revision = b.Manifest.Revision
	if set.Revision == "" {
		set.Revision = "etag:" + strings.Trim(b.Etag, `"`)
	}
	return set, nil
}
