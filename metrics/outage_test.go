package metrics

import (
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
)

// The outage policy's decisions and the degraded state, through a real
// validator and a failing fake Hanko.
func TestOutageMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv := hankotest.NewServer()
	defer srv.Close()
	v, err := hankoauth.New(hankoauth.Config{
		APIURL: srv.URL, Outage: hankoauth.OutageStale, CacheSize: -1, Hooks: m.Hooks(),
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	m.ObserveValidator(v)
	for v.Ready() != nil {
		time.Sleep(5 * time.Millisecond)
	}
	known := srv.MustMint(t, hankotest.Session{})
	fresh := srv.MustMint(t, hankotest.Session{})
	if _, err := v.Validate(t.Context(), known.Token); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, reg)
	check(t, fams, []series{
		{"hankoauth_degraded", nil, 0},
		{"hankoauth_outage_decisions_total", []string{"policy", "stale", "result", "allow"}, 0},
		{"hankoauth_outage_decisions_total", []string{"policy", "deny", "result", "deny"}, 0},
	})
	if _, ok := sample(fams, "hankoauth_outage_decisions_total", "policy", "deny", "result", "allow"); ok {
		t.Error("deny/allow series exists")
	}

	srv.Fail(hankotest.EndpointValidate, hankotest.Failure{Status: 502})
	for range 2 {
		if _, err := v.Validate(t.Context(), known.Token); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Validate(t.Context(), fresh.Token); err == nil {
		t.Fatal("a new session passed during the outage under stale")
	}
	fams = scrape(t, reg)
	check(t, fams, []series{
		{"hankoauth_degraded", nil, 1},
		{"hankoauth_outage_decisions_total", []string{"policy", "stale", "result", "allow"}, 2},
		{"hankoauth_outage_decisions_total", []string{"policy", "stale", "result", "deny"}, 1},
	})
	checkLabels(t, fams)

	srv.ClearFailures()
	if _, err := v.Validate(t.Context(), fresh.Token); err != nil {
		t.Fatal(err)
	}
	check(t, scrape(t, reg), []series{{"hankoauth_degraded", nil, 0}})
}
