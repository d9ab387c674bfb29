package deploy

//lint:file-ignore SA1019 the classic dashboard JSON model (dashboard, not dashboardv2) is what every Grafana since 10 imports; v2 needs Grafana 12's new dashboard API.

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"

	"github.com/hankoauth/hankoauth/deploy/grafana"
)

const dashboardFile = "grafana/hankoauth.json"

// TestDashboardIsGenerated checks that the committed dashboard is what
// the generator makes.
func TestDashboardIsGenerated(t *testing.T) {
	want, err := grafana.JSON()
	if err != nil {
		t.Fatal(err)
	}
	got := readFile(t, dashboardFile)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run `go generate ./grafana` in deploy/", dashboardFile)
	}
	// The SDK reads it back, panels and Prometheus queries included.
	plugins.RegisterDefaultPlugins()
	var d dashboard.Dashboard
	if err := json.Unmarshal(got, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Panels) == 0 || d.Panels[1].Panel == nil || len(d.Panels[1].Panel.Targets) == 0 {
		t.Fatal("no panel with a query after decoding")
	}
	if _, ok := d.Panels[1].Panel.Targets[0].(*prometheus.Dataquery); !ok {
		t.Errorf("first query decoded as %T, want a Prometheus query", d.Panels[1].Panel.Targets[0])
	}
}

// dashboardQueries returns the PromQL of every panel target of the
// committed dashboard, and the selectors of its label_values variables.
func dashboardQueries(t *testing.T) (queries []string) {
	t.Helper()
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr       string `json:"expr"`
				Datasource struct {
					UID string `json:"uid"`
				} `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Type  string `json:"type"`
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(readFile(t, dashboardFile), &d); err != nil {
		t.Fatal(err)
	}
	if d.UID != grafana.UID {
		t.Errorf("uid %q, want %q", d.UID, grafana.UID)
	}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				t.Errorf("panel %q: a target without expr", p.Title)
			}
			if tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: datasource %q, want the ${datasource} variable", p.Title, tg.Datasource.UID)
			}
			queries = append(queries, tg.Expr)
		}
	}
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
		if v.Type != "query" {
			continue
		}
		s, _ := v.Query.(string)
		m := labelValues.FindStringSubmatch(s)
		if m == nil {
			t.Errorf("variable %s: query %v is not label_values(selector, label)", v.Name, v.Query)
			continue
		}
		queries = append(queries, m[1])
	}
	if want := []string{"datasource", "job", "instance"}; !slices.Equal(vars, want) {
		t.Errorf("variables %v, want %v", vars, want)
	}
	return queries
}

// TestDashboardQueries checks that every query of the dashboard parses
// and names only metrics, and labels, that a running hanko-authz exports
// (pendingMetrics aside).
func TestDashboardQueries(t *testing.T) {
	queries := dashboardQueries(t)
	if len(queries) < 20 {
		t.Fatalf("only %d queries", len(queries))
	}
	e := exportedMetrics(t)
	pending := map[string]bool{}
	for _, q := range queries {
		for _, p := range checkNames(q, e, false, t.Errorf) {
			pending[p] = true
		}
	}
	for p := range pendingMetrics {
		if !pending[p] {
			t.Errorf("pending metric %s is on no panel", p)
		}
	}
	t.Logf("%d queries; pending metrics used: %v", len(queries), keys(pending))
}

// TestCheckNamesFails shows that the name check catches a misspelt
// metric, an unknown label, a selector without a name, an external
// metric on the dashboard and a query that does not parse.
func TestCheckNamesFails(t *testing.T) {
	e := exported{
		"hankoauth_decisions_total": {"edge": true, "result": true, "reason": true},
	}
	for _, expr := range []string{
		`rate(hankoauth_decision_total[5m])`,
		`hankoauth_decisions_total{outcome="deny"}`,
		`{job="hanko-authz"}`,
		`kube_deployment_spec_replicas`,
		`sum(rate(hankoauth_decisions_total[$__rate_interval])`,
	} {
		var errs []string
		checkNames(expr, e, false, func(string, ...any) { errs = append(errs, expr) })
		if len(errs) == 0 {
			t.Errorf("%s: accepted", expr)
		}
	}
	var errs int
	checkNames(`sum by (reason) (rate(hankoauth_decisions_total{job=~"$job", result="deny"}[$__rate_interval]))`, e, false,
		func(f string, a ...any) { errs++; t.Logf(f, a...) })
	if errs != 0 {
		t.Error("a good query rejected")
	}
}
