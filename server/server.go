// Package server assembles an imagegate process from a validated configuration: it
// builds every part (authentication, policy engine, enrichment client, decision log,
// metrics, the proxy), serves the proxy and admin listeners, and shuts them down
// gracefully.
package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/imagegate/imagegate/audit"
	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/enrich"
	"github.com/imagegate/imagegate/metrics"
	"github.com/imagegate/imagegate/policies"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/proxy"
	"github.com/imagegate/imagegate/route"
)

// Server is one imagegate process: proxy and admin listeners and what they need.
type Server struct {
	cfg        config.Config
	log        *slog.Logger
	registry   *prometheus.Registry
	metrics    *metrics.Metrics
	authn      *authn.Authenticator
	engine     *policy.Engine
	shadow     *policy.Engine
	bundle     *policy.BundleWatcher
	audit      *audit.Logger
	auditClose io.Closer
	proxy      *proxy.Proxy
	transport  *http.Transport
	upstream   *url.URL
	// upstreamOK is the last readiness probe's answer.
	upstreamOK atomic.Bool
}

// Options are what the caller provides beyond the configuration.
type Options struct {
	// Log is the process log; slog.Default() when nil.
	Log *slog.Logger
	// AuditWriter replaces the configured decision-log sink (tests, demo).
	AuditWriter io.Writer
	// ConfigDir resolves relative key file paths and reseller.file.
	ConfigDir string
}

// New builds every part; an error means nothing was started.
func New(ctx context.Context, cfg config.Config, o Options) (*Server, error) {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	if f := cfg.Reseller.File; f != "" && o.ConfigDir != "" && !filepath.IsAbs(f) {
		cfg.Reseller.File = filepath.Join(o.ConfigDir, f)
	}
	s := &Server{cfg: cfg, log: log, registry: prometheus.NewRegistry()}
	s.metrics = metrics.New(s.registry)

	up, err := url.Parse(cfg.Upstream.URL)
	if err != nil {
		return nil, fmt.Errorf("upstream.url: %w", err)
	}
	s.upstream = up
	s.transport, err = newTransport(cfg.Upstream)
	if err != nil {
		return nil, err
	}

	authOpts := []authn.Option{authn.WithObserver(s.metrics)}
	if o.ConfigDir != "" {
		authOpts = append(authOpts, authn.WithBaseDir(o.ConfigDir))
	}
	s.authn, err = authn.New(ctx, cfg.Auth, authOpts...)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}

	if err := s.loadPolicy(ctx); err != nil {
		return nil, err
	}

	var sink audit.Sink
	if o.AuditWriter != nil {
		sink = audit.NewWriterSink(o.AuditWriter)
	} else if sink, s.auditClose, err = openAuditSink(cfg.Audit); err != nil {
		return nil, err
	}
	s.audit, err = audit.New(sink, audit.Options{
		Buffer: cfg.Audit.Buffer, BatchSize: cfg.Audit.BatchSize, Mask: cfg.Audit.Mask, Observer: s.metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}

	enricher, err := enrich.New(enrich.Options{
		Dialect:      cfg.Dialect,
		ResellerTTL:  cfg.Reseller.CacheTTL.D(),
		Upstream:     up,
		HTTPClient:   &http.Client{Transport: s.transport, Timeout: cfg.Enrich.Timeout.D()},
		Headers:      serviceHeaders(cfg.Upstream.ServiceIdentity),
		TTL:          cfg.Enrich.CacheTTL.D(),
		MaxEntries:   cfg.Enrich.CacheSize,
		Timeout:      cfg.Enrich.Timeout.D(),
		MaxBodyBytes: cfg.Limits.MaxResponseBytes,
		Observer:     s.metrics,
	})
	if err != nil {
		return nil, err
	}
	var markerKey []byte
	if f := cfg.Upstream.MarkerKeyFile; f != "" {
		if markerKey, err = os.ReadFile(f); err != nil {
			return nil, fmt.Errorf("upstream.marker_key_file: %w", err)
		}
		if markerKey = bytes.TrimSpace(markerKey); len(markerKey) < 32 {
			return nil, fmt.Errorf("upstream.marker_key_file: %s holds %d bytes, want at least 32", f, len(markerKey))
		}
	}
	s.proxy, err = proxy.New(proxy.Options{
		Config:    cfg,
		Authn:     s.authn,
		Router:    newRouter(cfg.Dialect),
		Policy:    s.engine,
		Enricher:  enricher,
		Audit:     s.audit,
		Metrics:   s.metrics,
		Log:       log,
		Transport: s.transport,
		Shadow:    s.shadow,
		MarkerKey: markerKey,
	})
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings() {
		log.Warn("unsafe configuration", "warning", w)
	}
	return s, nil
}

// Handler is the proxy's request path (for tests that serve it themselves).
func (s *Server) Handler() http.Handler { return s.proxy }

// AdminHandler serves /healthz, /readyz and /metrics.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", s.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
	return mux
}

// ready answers 200 when a policy is loaded and the upstream answers HTTP at all.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	st := s.engine.Status()
	var report strings.Builder
	ready := s.engine.Ready()
	if ready {
		fmt.Fprintf(&report, "policy %s loaded from %s at %s\n", st.Revision, st.Source, st.LoadedAt.UTC().Format(time.RFC3339))
	} else {
		report.WriteString("no policy loaded\n")
	}
	if st.LastError != nil {
		// A failed reload keeps the last good policy: still ready, but say so.
		fmt.Fprintf(&report, "policy reload failed at %s: %v\n", st.ErrorAt.UTC().Format(time.RFC3339), st.LastError)
	}
	if err := s.probeUpstream(ctx); err != nil {
		ready = false
		fmt.Fprintf(&report, "upstream unreachable: %v\n", err)
	} else {
		report.WriteString("upstream reachable\n")
	}
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = io.WriteString(w, report.String())
}

func (s *Server) probeUpstream(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.upstream.String(), nil)
	if err != nil {
		return err
	}
	resp, err := s.transport.RoundTrip(req)
	if err != nil {
		s.upstreamOK.Store(false)
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		s.upstreamOK.Store(false)
		return fmt.Errorf("upstream answered %d", resp.StatusCode)
	}
	s.upstreamOK.Store(true)
	return nil
}

// Run serves until ctx ends, then drains in-flight requests (up to the shutdown
// timeout) and flushes the decision log. ready, when not nil, is called with the bound
// addresses once both listeners accept connections.
func (s *Server) Run(ctx context.Context, ready func(proxyAddr, adminAddr net.Addr)) error {
	var lc net.ListenConfig
	pl, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	al, err := lc.Listen(ctx, "tcp", s.cfg.AdminListen)
	if err != nil {
		pl.Close()
		return fmt.Errorf("admin_listen: %w", err)
	}
	errLog := slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	proxySrv := &http.Server{
		Handler:           s.proxy,
		ReadHeaderTimeout: s.cfg.Limits.ReadHeaderTimeout.D(),
		IdleTimeout:       s.cfg.Limits.IdleTimeout.D(),
		MaxHeaderBytes:    s.cfg.Limits.MaxHeaderBytes,
		ErrorLog:          errLog,
		// No Read/WriteTimeout: image uploads and downloads stream for as long as they
		// make progress. Slow headers and idle connections are bounded above.
	}
	adminSrv := &http.Server{
		Handler:           s.AdminHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          errLog,
	}
	errs := make(chan error, 2)
	go func() {
		if s.cfg.TLS.CertFile != "" {
			errs <- proxySrv.ServeTLS(pl, s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile)
		} else {
			errs <- proxySrv.Serve(pl)
		}
	}()
	go func() { errs <- adminSrv.Serve(al) }()
	if s.cfg.Policy.WatchInterval > 0 {
		go func() {
			if err := s.engine.WatchSource(ctx, s.cfg.Policy.WatchInterval.D(), s.log); err != nil {
				s.log.Error("policy watch stopped", "error", err)
			}
		}()
	}
	s.log.Info("imagegate serving", "listen", pl.Addr().String(), "admin_listen", al.Addr().String(),
		"upstream", s.cfg.Upstream.URL, "mode", s.cfg.Upstream.Mode, "policy_revision", s.engine.Revision())
	if ready != nil {
		ready(pl.Addr(), al.Addr())
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-errs:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = err
		}
	}
	s.log.Info("imagegate shutting down", "timeout", s.cfg.Limits.ShutdownTimeout.D().String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Limits.ShutdownTimeout.D())
	defer cancel()
	if err := proxySrv.Shutdown(shutdownCtx); err != nil {
		// Requests still running past the timeout are cut, loudly: their connections are
		// closed, they unwind and write their decision events, and only then is the
		// decision log flushed, with a budget of its own.
		cut := s.proxy.InFlight()
		s.log.Warn("shutdown timeout: cutting the requests still in flight", "requests", cut)
		_ = proxySrv.Close()
		s.waitInFlight(flushTimeout)
		runErr = errors.Join(runErr, fmt.Errorf("proxy shutdown: %d requests cut after %s: %w", cut, s.cfg.Limits.ShutdownTimeout.D(), err))
	}
	_ = adminSrv.Shutdown(shutdownCtx)
	flushCtx, cancelFlush := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancelFlush()
	return errors.Join(runErr, s.Close(flushCtx))
}

// flushTimeout bounds, after the shutdown timeout, the wait for cut requests to unwind
// and the flush of the decision log.
const flushTimeout = 5 * time.Second

// waitInFlight waits until no request is in the proxy, at most d.
func (s *Server) waitInFlight(d time.Duration) {
	deadline := time.Now().Add(d)
	for s.proxy.InFlight() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// Close flushes the decision log and releases background work.
func (s *Server) Close(ctx context.Context) error {
	err := s.audit.Close(ctx)
	if s.auditClose != nil {
		err = errors.Join(err, s.auditClose.Close())
	}
	s.authn.Close()
	if s.bundle != nil {
		s.bundle.Stop(ctx)
	}
	s.transport.CloseIdleConnections()
	return err
}

func openAuditSink(a config.Audit) (audit.Sink, io.Closer, error) {
	switch a.Sink {
	case "stdout":
		return audit.NewWriterSink(os.Stdout), nil, nil
	case "stderr":
		return audit.NewWriterSink(os.Stderr), nil, nil
	case "none":
		return audit.NewWriterSink(io.Discard), nil, nil
	case "file":
		f, err := os.OpenFile(a.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("audit.file: %w", err)
		}
		return audit.NewWriterSink(f), f, nil
	case "http":
		return audit.NewHTTPSink(a.URL, &http.Client{Timeout: 30 * time.Second}), nil, nil
	}
	return nil, nil, fmt.Errorf("audit.sink: unknown sink %q", a.Sink)
}

// serviceHeaders are the identity headers of the proxy's own lookups.
func serviceHeaders(id config.ServiceIdentity) http.Header {
	h := http.Header{}
	h.Set("X-Identity-Status", "Confirmed")
	h.Set("X-Project-Id", id.Project)
	if id.User != "" {
		h.Set("X-User-Id", id.User)
	}
	roles := ""
	for i, r := range id.Roles {
		if i > 0 {
			roles += ","
		}
		roles += r
	}
	h.Set("X-Roles", roles)
	return h
}

// newTransport is the one HTTP transport to the upstream, for forwarding and lookups.
func newTransport(u config.Upstream) (*http.Transport, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.TLS.ServerName, InsecureSkipVerify: u.TLS.InsecureSkipVerify} //nolint:gosec // off by default, warned about
	if u.TLS.CAFile != "" {
		pem, err := os.ReadFile(u.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("upstream.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("upstream.tls.ca_file: no certificate in %s", u.TLS.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	if u.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(u.TLS.CertFile, u.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("upstream.tls.cert_file: %w", err)
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	}
	dialer := &net.Dialer{Timeout: u.DialTimeout.D(), KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   u.DialTimeout.D(),
		ResponseHeaderTimeout: u.ResponseHeaderTimeout.D(),
		IdleConnTimeout:       u.IdleConnTimeout.D(),
		MaxIdleConns:          u.MaxIdleConnsPerHost * 2,
		MaxIdleConnsPerHost:   u.MaxIdleConnsPerHost,
		ExpectContinueTimeout: time.Second,
	}, nil
}

// loadPolicy builds the policy engine from the configured source: the shipped policies,
// a directory, or an OPA bundle (start-up waits for the first one), and the shadow policy.
func (s *Server) loadPolicy(ctx context.Context) error {
	cfg := s.cfg.Policy
	opts := []policy.Option{policy.WithObserver(s.metrics), policy.WithTestsOnLoad(cfg.TestOnReload)}
	if file := s.cfg.Reseller.File; file != "" {
		// Reseller limits as policy data: checked now, read again on every reload.
		opts = append(opts, policy.WithData(func() (map[string]any, error) { return enrich.LoadResellerFile(file) }))
	}
	var err error
	switch {
	case cfg.Bundle.URL != "":
		s.engine = policy.NewEmpty(opts...)
		s.bundle, err = policy.NewBundleWatcher(s.engine, policy.BundleConfig{
			URL: cfg.Bundle.URL, Resource: cfg.Bundle.Resource,
			MinDelay: cfg.Bundle.MinDelay.D(), MaxDelay: cfg.Bundle.MaxDelay.D(),
			PublicKeyFile: cfg.Bundle.PublicKeyFile, KeyID: cfg.Bundle.KeyID,
			Algorithm: cfg.Bundle.Algorithm, Scope: cfg.Bundle.Scope,
		}, s.log)
		if err != nil {
			return err
		}
		if err := s.bundle.Start(ctx, cfg.Bundle.StartupTimeout.D()); err != nil {
			s.bundle.Stop(ctx)
			return fmt.Errorf("policy.bundle: %w", err)
		}
	case cfg.Dir != "":
		if s.engine, err = policy.New(ctx, policy.DirSource(cfg.Dir), opts...); err != nil {
			return err
		}
	default:
		if s.engine, err = policy.New(ctx, policy.Source{Name: "embedded", FS: policies.FS()}, opts...); err != nil {
			return err
		}
	}
	if cfg.ShadowDir != "" {
		if s.shadow, err = policy.New(ctx, policy.DirSource(cfg.ShadowDir)); err != nil {
			return fmt.Errorf("policy.shadow_dir: %w", err)
		}
	}
	return nil
}

// newRouter is the router of the configured dialect.
func newRouter(dialect string) *route.Router {
	if dialect == config.DialectGcore {
		return route.NewGcore()
	}
	return route.NewGlance()
}
