package authn

import (
	"log/slog"
	"net/http"
	"time"
)

// Option configures an [Authenticator] beyond its [Config].
type Option func(*settings)

// settings collects what the options set.
type settings struct {
	now     func() time.Time
	client  *http.Client
	obs     Observer
	log     *slog.Logger
	baseDir string
}

// WithClock sets the clock used for exp/nbf/iat checks, cache expiry and the
// JWKS refresh rate limit. For tests; the default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *settings) {
		if now != nil {
			s.now = now
		}
	}
}

// WithHTTPClient sets the client for JWKS and OIDC discovery fetches. The
// default client times out after 10s and only follows redirects to https (or
// loopback http) URLs.
func WithHTTPClient(c *http.Client) Option {
	return func(s *settings) {
		if c != nil {
			s.client = c
		}
	}
}

// WithObserver sets the receiver of authentication and JWKS refresh outcomes,
// typically a metrics adapter. nil means none.
func WithObserver(o Observer) Option {
	return func(s *settings) {
		if o != nil {
			s.obs = o
		}
	}
}

// WithLogger sets the logger for key refresh problems and unsafe settings.
// The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) {
		if l != nil {
			s.log = l
		}
	}
}

// WithBaseDir resolves relative key_files and hmac_secret_file paths against
// dir (typically the configuration file's directory) instead of the working
// directory.
func WithBaseDir(dir string) Option {
	return func(s *settings) { s.baseDir = dir }
}
