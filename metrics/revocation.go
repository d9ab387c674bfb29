package metrics

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hankoauth/hankoauth"
)

// The known values of the revocation labels.
var (
	revocationSources = []hankoauth.RevocationSource{hankoauth.SourceAPI, hankoauth.SourceWebhook, hankoauth.SourceStream}
	webhookResults    = []string{"applied", "ignored", "rejected"}
	// webhookEvents are the events Hanko sends (its events package);
	// anything else, such as the event of a rejected delivery, is
	// counted as other.
	webhookEvents = []string{
		"session.create.flow", "session.create.admin",
		"session.delete.explicit.logout", "session.delete.explicit.revoke",
		"session.delete.admin.revoke", "session.delete.passive.limit", "session.delete.passive.expire",
		"user.create", "user.delete", "user.login", "user.update",
		"user.update.email.create", "user.update.email.delete", "user.update.email.primary",
		"user.update.username.create", "user.update.username.update", "user.update.username.delete",
		"user.update.password.update", "email.send",
	}
)

// Revocation state gauges: from ObserveValidator and ObserveStream.
var (
	revocationsActiveDesc = prometheus.NewDesc(namespace+"_revocations_active",
		"Revocations in force (sessions and users) in the validator's store.", nil, nil)
	revocationsCapacityDesc = prometheus.NewDesc(namespace+"_revocations_capacity",
		"Configured ceiling of revocations in force (MaxRevocations).", nil, nil)
	streamUpDesc = prometheus.NewDesc(namespace+"_revocation_stream_up",
		"1 while the Redis revocation stream is connected and followed, else 0 (absent without a stream).", nil, nil)
	streamLagDesc = prometheus.NewDesc(namespace+"_revocation_stream_lag_seconds",
		"How far behind the revocation stream this replica may be: 0 while it follows the stream, else the seconds since it last caught up.", nil, nil)
)

// revocationMetrics are the counters of webhooks and revocations.
type revocationMetrics struct {
	webhooks map[[2]string]prometheus.Counter                  // by event, result ("other" included)
	applied  map[hankoauth.RevocationSource]prometheus.Counter // by source ("other" included)
	refused  map[hankoauth.RevocationSource]prometheus.Counter
	stream   atomic.Pointer[func() (bool, time.Duration)]
}

func newRevocationMetrics() (*revocationMetrics, []prometheus.Collector) {
	r := &revocationMetrics{
		webhooks: make(map[[2]string]prometheus.Counter),
		applied:  make(map[hankoauth.RevocationSource]prometheus.Counter),
		refused:  make(map[hankoauth.RevocationSource]prometheus.Counter),
	}
	webhooks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "webhooks_total",
		Help: "Webhook deliveries from Hanko, by event and result (applied, ignored, rejected).",
	}, []string{"event", "result"})
	for _, e := range append(append([]string(nil), webhookEvents...), other) {
		for _, res := range webhookResults {
			r.webhooks[[2]string{e, res}] = webhooks.WithLabelValues(e, res)
		}
	}
	applied := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "revocations_applied_total",
		Help: "Revocations that changed the validator's store, by source (webhook, stream, api).",
	}, []string{"source"})
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "revocations_refused_total",
		Help: "Revocations the validator could not keep because its store was full (MaxRevocations), by source.",
	}, []string{"source"})
	for _, s := range append(append([]hankoauth.RevocationSource(nil), revocationSources...), other) {
		r.applied[s] = applied.WithLabelValues(string(s))
		r.refused[s] = refused.WithLabelValues(string(s))
	}
	return r, []prometheus.Collector{webhooks, applied, refused}
}

func (r *revocationMetrics) revocationApplied(s hankoauth.RevocationSource) {
	c, ok := r.applied[s]
	if !ok {
		c = r.applied[other]
	}
	c.Inc()
}

func (r *revocationMetrics) revocationRefused(s hankoauth.RevocationSource) {
	c, ok := r.refused[s]
	if !ok {
		c = r.refused[other]
	}
	c.Inc()
}

// Webhook counts a webhook delivery: result is applied, ignored or
// rejected. An event or result outside the known set (a rejected
// delivery's event is whatever the sender wrote) is counted as other.
// It fits webhook.WithObserver.
func (m *Metrics) Webhook(event, result string) {
	if c, ok := m.rev.webhooks[[2]string{event, result}]; ok {
		c.Inc()
		return
	}
	res := oneOf(result, webhookResults)
	c, ok := m.rev.webhooks[[2]string{oneOf(event, webhookEvents), res}]
	if !ok { // result is other: not pre-created
		return
	}
	c.Inc()
}

// ObserveStream makes hankoauth_revocation_stream_up and
// hankoauth_revocation_stream_lag_seconds report state, called once per
// scrape (a revocation stream's Status). Before it, they are absent.
func (m *Metrics) ObserveStream(state func() (up bool, lag time.Duration)) {
	m.rev.stream.Store(&state)
}

func (m *Metrics) collectRevocations(ch chan<- prometheus.Metric, s *hankoauth.Stats) {
	if s != nil {
		ch <- prometheus.MustNewConstMetric(revocationsActiveDesc, prometheus.GaugeValue, float64(s.Revocations))
		ch <- prometheus.MustNewConstMetric(revocationsCapacityDesc, prometheus.GaugeValue, float64(s.RevocationsMax))
	}
	if f := m.rev.stream.Load(); f != nil {
		up, lag := (*f)()
		v := 0.0
		if up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(streamUpDesc, prometheus.GaugeValue, v)
		ch <- prometheus.MustNewConstMetric(streamLagDesc, prometheus.GaugeValue, max(lag.Seconds(), 0))
	}
}
