package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hankoauth/hankoauth"
)

// outageKey is one label combination of outage_decisions_total.
type outageKey struct {
	policy  hankoauth.OutagePolicy
	allowed bool
}

// newOutageDecisions creates hankoauth_outage_decisions_total and resolves
// every combination of its labels.
func (m *Metrics) newOutageDecisions() *prometheus.CounterVec {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "outage_decisions_total",
		Help: "Sessions decided by the outage policy while Hanko could not be asked, by policy (deny, stale, local) and result (allow, deny).",
	}, []string{"policy", "result"})
	m.outageDecisions = make(map[outageKey]prometheus.Counter)
	for _, p := range outagePolicies {
		for _, allowed := range []bool{true, false} {
			if p == hankoauth.OutageDeny && allowed {
				continue // deny never allows
			}
			result := "deny"
			if allowed {
				result = "allow"
			}
			m.outageDecisions[outageKey{p, allowed}] = vec.WithLabelValues(p.String(), result)
		}
	}
	return vec
}

func (m *Metrics) outageDecision(p hankoauth.OutagePolicy, allowed bool) {
	if c, ok := m.outageDecisions[outageKey{p, allowed}]; ok {
		c.Inc()
	}
}
