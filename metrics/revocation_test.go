package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestRevocationMetrics: webhook results and stream state, with label
// values bounded whatever the caller passes.
func TestRevocationMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg, WithVersion("v0.0.0-test"))
	if err != nil {
		t.Fatal(err)
	}
	m.Webhook("session.delete.explicit.logout", "applied")
	m.Webhook("session.create.flow", "ignored")
	m.Webhook("eyJhbGciOiJSUzI1NiJ9.forged", "rejected") // a sender's event name: bounded
	m.Webhook("user.delete", "bogus")                    // an unknown result: dropped
	m.Hooks().RevocationApplied("webhook")
	m.Hooks().RevocationApplied("elsewhere")
	m.Hooks().RevocationRefused("stream")
	m.ObserveStream(func() (bool, time.Duration) { return false, 90 * time.Second })

	fams := scrape(t, reg)
	check(t, fams, []series{
		{"hankoauth_webhooks_total", []string{"event", "session.delete.explicit.logout", "result", "applied"}, 1},
		{"hankoauth_webhooks_total", []string{"event", "session.create.flow", "result", "ignored"}, 1},
		{"hankoauth_webhooks_total", []string{"event", "other", "result", "rejected"}, 1},
		{"hankoauth_webhooks_total", []string{"event", "user.delete", "result", "applied"}, 0},
		{"hankoauth_revocations_applied_total", []string{"source", "webhook"}, 1},
		{"hankoauth_revocations_applied_total", []string{"source", "other"}, 1},
		{"hankoauth_revocations_applied_total", []string{"source", "stream"}, 0},
		{"hankoauth_revocations_refused_total", []string{"source", "stream"}, 1},
		{"hankoauth_revocation_stream_up", nil, 0},
		{"hankoauth_revocation_stream_lag_seconds", nil, 90},
	})
	checkLabels(t, fams, "eyJhbGciOiJSUzI1NiJ9")
}
