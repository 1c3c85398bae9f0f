// Package metrics defines imagegate's Prometheus metrics on a registry of the caller's,
// never the global one, so that tests and several proxies in one process do not collide.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/imagegate/imagegate/authn"
)

// Metrics holds every collector the proxy updates.
type Metrics struct {
	Requests         *prometheus.CounterVec
	RequestDuration  *prometheus.HistogramVec
	StageDuration    *prometheus.HistogramVec
	AuthFailures     *prometheus.CounterVec
	AuthCacheHits    prometheus.Counter
	JWKSRefreshes    *prometheus.CounterVec
	PolicyReloads    *prometheus.CounterVec
	PolicyRevision   *prometheus.GaugeVec
	CacheLookups     *prometheus.CounterVec
	DecisionsLogged  prometheus.Counter
	DecisionsDropped *prometheus.CounterVec
	InFlight         prometheus.Gauge
	Rejected         *prometheus.CounterVec
	FilteredItems    prometheus.Counter
	ShadowDecisions  *prometheus.CounterVec
}

// Stages of the request path whose latency is measured on their own.
const (
	StageAuthn    = "authn"
	StagePolicy   = "policy"
	StageEnrich   = "enrich"
	StageUpstream = "upstream"
	StageFilter   = "filter"
)

// New creates the collectors and registers them, with the Go and process collectors, on reg.
func New(reg prometheus.Registerer) *Metrics {
	latency := []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagegate_requests_total",
			Help: "Requests handled, by dialect, operation, decision (allow, deny, error) and response code.",
		}, []string{"dialect", "operation", "decision", "code"}),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "imagegate_request_duration_seconds",
			Help:    "Time from receiving a request to writing its response headers, by dialect, operation and decision.",
			Buckets: latency,
		}, []string{"dialect", "operation", "decision"}),
		StageDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "imagegate_stage_duration_seconds",
			Help:    "Time spent in one stage of the request path: authn, enrich, policy, upstream, filter.",
			Buckets: latency,
		}, []string{"stage"}),
		AuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagegate_authn_failures_total",
			Help: "Requests refused by authentication, by reason.",
		}, []string{"reason"}),
		AuthCacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imagegate_authn_cache_hits_total",
			Help: "Tokens accepted from the verified-token cache without verifying the signature again.",
		}),
		JWKSRefreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagegate_jwks_refreshes_total",
			Help: "Fetches of an issuer's key set, by result (success, error).",
		}, []string{"result"}),
		PolicyReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagegate_policy_reloads_total",
			Help: "Policy loads, by result (success, error). An error keeps the last good policy.",
		}, []string{"result"}),
		PolicyRevision: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "imagegate_policy_revision_info",
			Help: "The policy revision in force (value 1, revision as label).",
		}, []string{"revision"}),
		CacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagegate_enrich_cache_lookups_total",
			Help: "Lookups in the enrichment cache, by kind (image, membership) and result (hit, miss).",
		}, []string{"kind", "result"}),
		DecisionsLogged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imagegate_decision_log_events_total",
			Help: "Decision events written to the decision log sink.",
		}),
		DecisionsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagegate_decision_log_dropped_total",
			Help: "Decision events that could not be written, by reason (buffer_full, write_error, closed).",
		}, []string{"reason"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "imagegate_in_flight_requests",
			Help: "Requests being handled now.",
		}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagegate_rejected_requests_total",
			Help: "Requests refused before a decision, by reason (overload, bad_path, bad_query, not_found, ...).",
		}, []string{"reason"}),
		FilteredItems: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imagegate_filtered_items_total",
			Help: "List items removed from responses because the caller may not see them.",
		}),
	}
	m.ShadowDecisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "imagegate_shadow_decisions_total",
		Help: "Decisions of the shadow policy, by result: same as the enforced one, differ, or error.",
	}, []string{"result"})
	reg.MustRegister(m.ShadowDecisions,
		m.Requests, m.RequestDuration, m.StageDuration, m.AuthFailures, m.AuthCacheHits,
		m.JWKSRefreshes, m.PolicyReloads, m.PolicyRevision, m.CacheLookups,
		m.DecisionsLogged, m.DecisionsDropped, m.InFlight, m.Rejected, m.FilteredItems,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// ObserveStage records the duration of one stage.
func (m *Metrics) ObserveStage(stage string, d time.Duration) {
	m.StageDuration.WithLabelValues(stage).Observe(d.Seconds())
}

// EventWritten implements audit.Observer.
func (m *Metrics) EventWritten() { m.DecisionsLogged.Inc() }

// EventDropped implements audit.Observer.
func (m *Metrics) EventDropped(reason string) { m.DecisionsDropped.WithLabelValues(reason).Inc() }

// CacheLookup implements the enrichment cache's observer.
func (m *Metrics) CacheLookup(kind string, hit bool) {
	result := "miss"
	if hit {
		result = "hit"
	}
	m.CacheLookups.WithLabelValues(kind, result).Inc()
}

// ObserveAuth implements authn.Observer: failures by reason, and cache hits.
func (m *Metrics) ObserveAuth(_ string, code authn.Code, cached bool, _ time.Duration) {
	if code != authn.CodeOK {
		m.AuthFailures.WithLabelValues(string(code)).Inc()
		return
	}
	if cached {
		m.AuthCacheHits.Inc()
	}
}

// ObserveJWKSRefresh implements authn.Observer.
func (m *Metrics) ObserveJWKSRefresh(_ string, err error) {
	result := "success"
	if err != nil {
		result = "error"
	}
	m.JWKSRefreshes.WithLabelValues(result).Inc()
}

// PolicyLoaded implements policy.Observer: loads by result, and the revision in force.
func (m *Metrics) PolicyLoaded(_, revision string, err error) {
	if err != nil {
		m.PolicyReloads.WithLabelValues("error").Inc()
		return
	}
	m.PolicyReloads.WithLabelValues("success").Inc()
	m.PolicyRevision.Reset()
	m.PolicyRevision.WithLabelValues(revision).Set(1)
}
