package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hankoauth/hankoauth"
)

// The state gauges, read from the observed validator's Stats.
var (
	cacheEntriesDesc = prometheus.NewDesc(namespace+"_cache_entries",
		"Tokens in the validator's cache (an estimate).", nil, nil)
	jwksKeysDesc = prometheus.NewDesc(namespace+"_jwks_keys",
		"Usable keys in the current JWKS (absent in remote mode).", nil, nil)
	jwksAgeDesc = prometheus.NewDesc(namespace+"_jwks_age_seconds",
		"Seconds since the current JWKS was fetched (absent until one is, and in remote mode).", nil, nil)
	degradedDesc = prometheus.NewDesc(namespace+"_degraded",
		"1 while Hanko cannot be asked about sessions and the outage policy decides them, else 0.", nil, nil)
)

// stateCollector reports the observed validator's Stats, taking one
// snapshot per scrape. It reports nothing before ObserveValidator.
type stateCollector struct {
	m *Metrics
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cacheEntriesDesc
	ch <- revocationsActiveDesc
	ch <- revocationsCapacityDesc
	ch <- streamUpDesc
	ch <- streamLagDesc
	ch <- jwksKeysDesc
	ch <- jwksAgeDesc
	ch <- degradedDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	v := c.m.validator.Load()
	if v == nil {
		c.m.collectRevocations(ch, nil)
		return
	}
	s := v.Stats()
	c.m.collectRevocations(ch, &s)
	ch <- prometheus.MustNewConstMetric(cacheEntriesDesc, prometheus.GaugeValue, float64(s.CacheEntries))
	degraded := 0.0
	if v.Outage().Degraded() {
		degraded = 1
	}
	ch <- prometheus.MustNewConstMetric(degradedDesc, prometheus.GaugeValue, degraded)
	if v.Mode() == hankoauth.ModeRemote {
		return // no JWKS in remote mode
	}
	ch <- prometheus.MustNewConstMetric(jwksKeysDesc, prometheus.GaugeValue, float64(s.Keys))
	if !s.KeysFetchedAt.IsZero() {
		age := max(time.Since(s.KeysFetchedAt).Seconds(), 0)
		ch <- prometheus.MustNewConstMetric(jwksAgeDesc, prometheus.GaugeValue, age)
	}
}
