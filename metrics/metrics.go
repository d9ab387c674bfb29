package metrics

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hankoauth/hankoauth"
)

const namespace = "hankoauth"

// modulePath is this module, whose version build_info reports.
const modulePath = "github.com/hankoauth/hankoauth"

// other is the label value for anything outside a label's known set.
const (
	other       = "other"
	otherReason = "OTHER"
)

// The known label values. Anything else is counted as other / OTHER, so that
// a caller's mistake cannot grow the number of series. The reasons and the
// result of each come from hankoauth's reason table.
var (
	edges   = []string{"interceptor", "extauthz", "http"}
	results = []string{
		hankoauth.ResultAllow, hankoauth.ResultPublic, hankoauth.ResultDeny,
		hankoauth.ResultError, hankoauth.ResultCanceled,
	}
	hankoOutcomes = []string{"valid", "invalid", "bad_request", "error"}
	jwksOutcomes  = []string{"ok", "error"}
	paths         = []hankoauth.Path{hankoauth.PathCache, hankoauth.PathLocal, hankoauth.PathRemote, hankoauth.PathNone}
)

// Buckets of the histograms, in seconds.
var (
	// hankoBuckets suit a network call: 1 ms to 5 s.
	hankoBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
	// validationBuckets reach down to a cache hit (about a microsecond)
	// and up to a call to Hanko that times out: 1 µs to 5 s.
	validationBuckets = []float64{
		1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
		.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5,
	}
)

// Option configures New.
type Option func(*options)

type options struct {
	version string
}

// WithVersion sets the version label of hankoauth_build_info. By default
// it is the version of this module in the running binary's build
// information ("(devel)" for a build from a checkout, "unknown" without
// build information).
func WithVersion(v string) Option {
	return func(o *options) { o.version = v }
}

// Metrics holds hankoauth's Prometheus metrics. Create it with New; it is
// safe for concurrent use.
type Metrics struct {
	hooks *hankoauth.Hooks
	grpc  *grpcprom.ServerMetrics

	decisions     *prometheus.CounterVec
	decisionIndex map[decisionKey]prometheus.Counter // every known combination, resolved once

	cacheHits, cacheMisses, cacheEvictions prometheus.Counter

	hankoRequests map[string]prometheus.Counter // by outcome, "other" included
	hankoDuration prometheus.Histogram
	hankoInFlight prometheus.Gauge

	jwksRefreshes map[string]prometheus.Counter // by outcome, "other" included

	validation map[hankoauth.Path]prometheus.Observer // by path, "other" included

	validator atomic.Pointer[hankoauth.Validator] // set by ObserveValidator
}

type decisionKey struct {
	edge, result string
	reason       hankoauth.Reason
}

// New creates the metrics and registers them, and the gRPC server metrics
// of GRPCServerMetrics, on reg. It returns an error, and leaves reg as it
// was, when any of them is already registered there.
func New(reg prometheus.Registerer, opts ...Option) (*Metrics, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.version == "" {
		o.version = moduleVersion()
	}
	m := &Metrics{
		grpc: grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
			grpcprom.WithHistogramBuckets(hankoBuckets))),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "decisions_total",
			Help: "Requests decided by an edge (interceptor, extauthz, http), by result (allow, public, deny, error, canceled) and reason code.",
		}, []string{"edge", "result", "reason"}),
		decisionIndex: make(map[decisionKey]prometheus.Counter),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "cache_hits_total",
			Help: "Validations answered from the token cache.",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "cache_misses_total",
			Help: "Validations the token cache could not answer.",
		}),
		cacheEvictions: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "cache_evictions_total",
			Help: "Entries dropped from the token cache to make room (not expiries).",
		}),
		hankoDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "hanko_request_duration_seconds",
			Help:    "Latency of Hanko's POST /sessions/validate.",
			Buckets: hankoBuckets,
		}),
		hankoInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "hanko_requests_in_flight",
			Help: "HTTP requests to Hanko (JWKS and session validation) under way; needs InstrumentTransport.",
		}),
		hankoRequests: make(map[string]prometheus.Counter),
		jwksRefreshes: make(map[string]prometheus.Counter),
		validation:    make(map[hankoauth.Path]prometheus.Observer),
	}
	hanko := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "hanko_requests_total",
		Help: "Calls to Hanko's POST /sessions/validate, by outcome (valid, invalid, bad_request, error).",
	}, []string{"outcome"})
	for _, oc := range slices.Concat(hankoOutcomes, []string{other}) {
		m.hankoRequests[oc] = hanko.WithLabelValues(oc)
	}
	jwks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "jwks_refreshes_total",
		Help: "Fetches of Hanko's JWKS, by outcome (ok, error).",
	}, []string{"outcome"})
	for _, oc := range slices.Concat(jwksOutcomes, []string{other}) {
		m.jwksRefreshes[oc] = jwks.WithLabelValues(oc)
	}
	validation := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "validation_duration_seconds",
		Help:    "Duration of token validations, by the way they were decided (cached, local, remote, none).",
		Buckets: validationBuckets,
	}, []string{"path"})
	for _, p := range slices.Concat(paths, []hankoauth.Path{other}) {
		m.validation[p] = validation.WithLabelValues(string(p))
	}
	for _, e := range edges {
		m.decisionCounter(e, hankoauth.ResultPublic, hankoauth.ReasonOK)
		for _, r := range hankoauth.Reasons() {
			if r == hankoauth.ReasonNoHTTPAttributes && e != "extauthz" {
				continue // only Envoy's check requests lack HTTP attributes
			}
			m.decisionCounter(e, r.Info().Class.Result(), r)
		}
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Always 1; the labels name the version of hankoauth and of Go.",
		ConstLabels: prometheus.Labels{"version": o.version, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)

	cs := []prometheus.Collector{
		m.grpc, m.decisions, m.cacheHits, m.cacheMisses, m.cacheEvictions,
		hanko, m.hankoDuration, m.hankoInFlight, jwks, validation, buildInfo,
		&stateCollector{m: m},
	}
	if err := registerAll(reg, cs); err != nil {
		return nil, err
	}
	m.hooks = &hankoauth.Hooks{
		Validated:     m.validated,
		CacheLookup:   m.cacheLookup,
		CacheEvicted:  m.cacheEvictions.Inc,
		HankoRequest:  m.hankoRequest,
		KeysRefreshed: m.keysRefreshed,
	}
	return m, nil
}

// registerAll registers cs on reg, or none of them.
func registerAll(reg prometheus.Registerer, cs []prometheus.Collector) error {
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return errors.New("metrics: hankoauth metrics are already registered")
			}
			return err
		}
	}
	return nil
}

// decisionCounter returns the counter of one label combination, resolving
// and remembering it on first use (only New adds to the index, so reads
// need no lock).
func (m *Metrics) decisionCounter(edge, result string, reason hankoauth.Reason) prometheus.Counter {
	k := decisionKey{edge, result, reason}
	if c, ok := m.decisionIndex[k]; ok {
		return c
	}
	c := m.decisions.WithLabelValues(edge, result, string(reason))
	m.decisionIndex[k] = c
	return c
}

// Hooks returns the hooks that feed the metrics, for hankoauth.Config.Hooks
// (set it before hankoauth.New). A Metrics may observe several validators
// this way; their counts add up.
func (m *Metrics) Hooks() *hankoauth.Hooks { return m.hooks }

// Decision counts a decision of an edge. It is a decision hook for
// interceptor.WithDecisionHook and extauthz.WithDecisionHook. Only the
// Edge, Result and Reason become labels, and values outside their known
// sets are counted as "other" (edge, result) or "OTHER" (reason); the
// Target is never looked at. A public target (health, reflection, public
// methods and paths) counts as result "public" with reason OK, not as an
// allowed session, whatever Result the hook was given.
func (m *Metrics) Decision(_ context.Context, d hankoauth.Decision) {
	if d.Public {
		d.Result, d.Reason = hankoauth.ResultPublic, hankoauth.ReasonOK
	}
	if c, ok := m.decisionIndex[decisionKey{d.Edge, d.Result, d.Reason}]; ok {
		c.Inc()
		return
	}
	edge, result, reason := oneOf(d.Edge, edges), oneOf(d.Result, results), otherReason
	if d.Reason.Known() {
		reason = string(d.Reason)
	}
	m.decisions.WithLabelValues(edge, result, reason).Inc()
}

// oneOf returns s if it is in known, else "other".
func oneOf(s string, known []string) string {
	for _, k := range known {
		if s == k {
			return s
		}
	}
	return other
}

// GRPCServerMetrics returns the gRPC server's own RPC metrics
// (grpc_server_started_total, grpc_server_handled_total,
// grpc_server_msg_received_total, grpc_server_msg_sent_total and the
// grpc_server_handling_seconds histogram), already registered by New.
// Install its UnaryServerInterceptor and StreamServerInterceptor first in
// the chain, and call its InitializeMetrics with the server once the
// services are registered.
func (m *Metrics) GRPCServerMetrics() *grpcprom.ServerMetrics { return m.grpc }

// ObserveValidator makes the state gauges (hankoauth_cache_entries,
// hankoauth_jwks_keys, hankoauth_jwks_age_seconds,
// hankoauth_revoked_sessions) report v's Stats, read once per scrape.
// A later call replaces v; before the first, the gauges are absent.
func (m *Metrics) ObserveValidator(v *hankoauth.Validator) { m.validator.Store(v) }

// Handler serves the metrics that g gathers (a *prometheus.Registry, say)
// in the Prometheus text or OpenMetrics format.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// The hooks.

func (m *Metrics) cacheLookup(hit bool) {
	if hit {
		m.cacheHits.Inc()
	} else {
		m.cacheMisses.Inc()
	}
}

func (m *Metrics) validated(path hankoauth.Path, _ hankoauth.Reason, elapsed time.Duration) {
	o, ok := m.validation[path]
	if !ok {
		o = m.validation[other]
	}
	o.Observe(elapsed.Seconds())
}

func (m *Metrics) hankoRequest(outcome string, elapsed time.Duration) {
	c, ok := m.hankoRequests[outcome]
	if !ok {
		c = m.hankoRequests[other]
	}
	c.Inc()
	m.hankoDuration.Observe(elapsed.Seconds())
}

func (m *Metrics) keysRefreshed(outcome string, _ int) {
	c, ok := m.jwksRefreshes[outcome]
	if !ok {
		c = m.jwksRefreshes[other]
	}
	c.Inc()
}

// moduleVersion is the version of this module in the binary's build
// information.
func moduleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if bi.Main.Path == modulePath {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == modulePath {
			if d.Replace != nil && d.Replace.Version != "" {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return "unknown"
}
