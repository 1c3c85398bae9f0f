// Package proxy is imagegate's request path: it recognises the operation, authenticates
// the caller, looks up what the policy needs, asks the policy, forwards what is allowed
// with trusted identity headers, applies the policy's obligations to the response, and
// accounts for every decision. New lists these steps in order; each is one small
// function in this package.
package proxy

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/imagegate/imagegate/audit"
	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/enrich"
	"github.com/imagegate/imagegate/metrics"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/route"
)

// Authenticator turns a request's token into a Principal (authn.Authenticator).
type Authenticator interface {
	Authenticate(ctx context.Context, r *http.Request) (*authn.Principal, error)
}

// Enricher looks up image records and memberships, and in the gcore dialect reseller
// limits and shared images (enrich.Client).
type Enricher interface {
	Image(ctx context.Context, ref enrich.ImageRef) (map[string]any, error)
	Membership(ctx context.Context, imageID, tenant string) (*enrich.Membership, error)
	Invalidate(ref enrich.ImageRef)
	Reseller(ctx context.Context, reseller, client, project string) (map[string]any, error)
	InvalidateReseller()
}

// Options are the completed parts the proxy is built from.
type Options struct {
	Config    config.Config
	Authn     Authenticator
	Router    *route.Router
	Policy    *policy.Engine
	Enricher  Enricher
	Audit     *audit.Logger
	Metrics   *metrics.Metrics
	Log       *slog.Logger
	Transport http.RoundTripper
	// Shadow, when set, is a candidate policy evaluated beside Policy on every request;
	// its decision is logged and compared, never enforced.
	Shadow *policy.Engine
	// MarkerKey seals pagination markers (see marker.go). Replicas behind one load
	// balancer need the same key; nil makes a random one.
	MarkerKey []byte
}

// Proxy is the request path. Build it with New.
type Proxy struct {
	cfg      config.Config
	upstream *url.URL
	authn    Authenticator
	router   *route.Router
	policy   *policy.Engine
	shadow   *policy.Engine
	enricher Enricher
	audit    *audit.Logger
	metrics  *metrics.Metrics
	log      *slog.Logger
	strip    headerStripper
	sealer   markerSealer
	inFlight chan struct{}
	// dataInFlight bounds image data transfers, a part of inFlight.
	dataInFlight chan struct{}
	forward      http.Handler
	handler      http.Handler
	transport    http.RoundTripper
}

// New checks the options and builds the handler chain of DESIGN §1.
func New(o Options) (*Proxy, error) {
	if o.Authn == nil || o.Router == nil || o.Policy == nil || o.Enricher == nil ||
		o.Audit == nil || o.Metrics == nil || o.Log == nil || o.Transport == nil {
		return nil, errors.New("proxy: every option is required")
	}
	up, err := url.Parse(o.Config.Upstream.URL)
	if err != nil {
		return nil, fmt.Errorf("proxy: upstream.url: %w", err)
	}
	if len(o.MarkerKey) == 0 {
		o.MarkerKey = make([]byte, 32)
		if _, err := rand.Read(o.MarkerKey); err != nil {
			return nil, fmt.Errorf("proxy: marker key: %w", err)
		}
	}
	p := &Proxy{
		cfg:          o.Config,
		upstream:     up,
		authn:        o.Authn,
		router:       o.Router,
		policy:       o.Policy,
		shadow:       o.Shadow,
		enricher:     o.Enricher,
		audit:        o.Audit,
		metrics:      o.Metrics,
		log:          o.Log,
		strip:        newHeaderStripper(o.Config.Upstream.StripHeaders),
		sealer:       markerSealer{key: o.MarkerKey},
		inFlight:     make(chan struct{}, o.Config.Limits.MaxInFlight),
		dataInFlight: make(chan struct{}, max(o.Config.Limits.MaxInFlightData, 1)),
	}
	p.transport = o.Transport
	p.forward = p.newForwarder(o.Transport)

	// The request path, outermost first. Every step either calls the next or answers the
	// request itself with a JSON error; the forwarder runs only after a decision allowed.
	p.handler = chain(p.forward,
		p.recoverPanics,   // a bug answers 500, never a half-decided forward
		p.limitInFlight,   // bounded concurrency: 503 when full, never unbounded memory
		p.account,         // request id, metrics, one decision event per request
		p.route,           // canonical path and query → Operation (400 / 404 / 405)
		p.authenticate,    // token → Principal (401)
		p.readBody,        // small JSON bodies read, bounded and parsed; image data streams
		p.enrich,          // image record and membership the policy needs (fail closed)
		p.decide,          // Rego: data.imagegate.decision (403 / 404)
		p.checkListMarker, // a pagination marker must name an image the caller sees
		p.limitData,       // bounded image data transfers: 503 when full
	)
	return p, nil
}

// InFlight is the number of requests in the proxy now (a shutdown waits for it).
func (p *Proxy) InFlight() int { return len(p.inFlight) }

// ServeHTTP runs the request path.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.handler.ServeHTTP(w, r) }

// chain wraps h in steps so that steps[0] runs first.
func chain(h http.Handler, steps ...func(http.Handler) http.Handler) http.Handler {
	for i := len(steps) - 1; i >= 0; i-- {
		h = steps[i](h)
	}
	return h
}

// exchange is what the steps learn about one request, kept in its context.
type exchange struct {
	start      time.Time
	requestID  string
	clientHost string
	tls        bool
	op         route.Operation
	query      url.Values
	// outQuery, when set, replaces the raw query sent upstream (an unsealed marker).
	outQuery  string
	principal *authn.Principal
	body      any
	patch     []policy.PatchOp
	image     map[string]any
	member    *policy.Membership
	// reseller holds the caller's reseller limits and shared images, when looked up.
	reseller map[string]any
	decision policy.Decision
	decided  bool
	revision string
	// shadow is the shadow policy's decision, when one runs.
	shadow *policy.Decision
	// dryRun marks a denial forwarded because of policy.dry_run.
	dryRun bool

	// The outcome, for the decision event and the metrics.
	status         int
	code           string
	reasons        []string
	upstreamStatus int
	filtered       int
	authnTime      time.Duration
	enrichTime     time.Duration
	policyTime     time.Duration
	upstreamStart  time.Time
	upstreamTime   time.Duration
}

type exchangeKey struct{}

func exchangeOf(r *http.Request) *exchange {
	x, _ := r.Context().Value(exchangeKey{}).(*exchange)
	return x
}

// deny answers a request the proxy refuses and records why.
func (p *Proxy) deny(w http.ResponseWriter, x *exchange, status int, code, message string, reasons []string) {
	x.status, x.code = status, code
	if len(reasons) == 0 {
		reasons = []string{message}
	}
	x.reasons = reasons
	writeError(w, status, code, message, reasons, x.requestID)
}

// input builds the policy input for the request.
func (p *Proxy) input(r *http.Request, x *exchange) *policy.Input {
	return &policy.Input{
		Operation:    x.op,
		Method:       r.Method,
		Path:         r.URL.Path,
		Query:        x.query,
		Body:         x.body,
		Patch:        x.patch,
		Principal:    x.principal,
		Image:        x.image,
		Membership:   x.member,
		Reseller:     x.reseller,
		Dialect:      p.cfg.Dialect,
		UpstreamMode: p.cfg.Upstream.Mode,
		Region:       p.cfg.Reseller.Region,
	}
}
