package deploy

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"go.yaml.in/yaml/v3"
)

const (
	alertsFile      = "prometheus/alerts.yaml"
	alertTestsFile  = "prometheus/alerts_test.yaml"
	ruleCRDFile     = "kubernetes/monitoring/prometheusrule.yaml"
	readmeFile      = "../README.md"
	readmeAlertsRef = "see README, Troubleshooting, Alerts: "
)

// loadAlerts parses and validates the rules as Prometheus does (unknown
// fields are errors; expressions and templates must parse).
func loadAlerts(t *testing.T) *rulefmt.RuleGroups {
	t.Helper()
	groups, errs := rulefmt.Parse(readFile(t, alertsFile), false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Error(err)
	}
	if groups == nil || len(groups.Groups) == 0 {
		t.Fatal("no rule groups")
	}
	return groups
}

// TestAlerts checks every alert's shape: a `for`, a severity, and a
// summary that names an existing row of the README's alerts table.
func TestAlerts(t *testing.T) {
	readme := string(readFile(t, readmeFile))
	seen := map[string]bool{}
	for _, g := range loadAlerts(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a recording rule (%s); the file holds alerts only", g.Name, r.Record)
				continue
			}
			if seen[r.Alert] {
				t.Errorf("%s: defined twice", r.Alert)
			}
			seen[r.Alert] = true
			if r.For <= 0 {
				t.Errorf("%s: no `for`", r.Alert)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
			}
			summary := r.Annotations["summary"]
			_, row, ok := strings.Cut(summary, readmeAlertsRef)
			row = strings.TrimSuffix(row, ".")
			if !ok || row == "" {
				t.Errorf("%s: the summary does not say %q<row>", r.Alert, readmeAlertsRef)
				continue
			}
			if !strings.Contains(readme, "\n| `"+row+"` |") {
				t.Errorf("%s: the README's alerts table has no row `%s`", r.Alert, row)
			}
		}
	}
	if len(seen) < 8 {
		t.Errorf("only %d alerts", len(seen))
	}
}

// TestAlertQueries checks that the alerts name only metrics that a
// running hanko-authz exports (pendingMetrics and kube-state-metrics'
// aside), with labels they carry.
func TestAlertQueries(t *testing.T) {
	groups := loadAlerts(t)
	e := exportedMetrics(t)
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			checkNames(r.Expr, e, true, func(f string, a ...any) { t.Errorf(r.Alert+": "+f, a...) })
		}
	}
}

// promtoolTests is the part of a promtool unit test file this test reads.
type promtoolTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name           string `yaml:"name"`
		AlertRuleTests []struct {
			EvalTime  string           `yaml:"eval_time"`
			AlertName string           `yaml:"alertname"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// TestAlertsAreUnitTested checks that the promtool unit tests (run by
// .ci/run: `promtool test rules`) cover every alert both ways: prepared
// series on which it fires and others on which it stays quiet.
func TestAlertsAreUnitTested(t *testing.T) {
	var pt promtoolTests
	if err := yaml.Unmarshal(readFile(t, alertTestsFile), &pt); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pt.RuleFiles, []string{"alerts.yaml"}) {
		t.Errorf("rule_files %v, want [alerts.yaml]", pt.RuleFiles)
	}
	fires, quiet := map[string]int{}, map[string]int{}
	for _, tc := range pt.Tests {
		for _, a := range tc.AlertRuleTests {
			if len(a.ExpAlerts) > 0 {
				fires[a.AlertName]++
			} else {
				quiet[a.AlertName]++
			}
		}
	}
	for _, g := range loadAlerts(t).Groups {
		for _, r := range g.Rules {
			if fires[r.Alert] == 0 {
				t.Errorf("%s: no promtool test where it fires", r.Alert)
			}
			if quiet[r.Alert] == 0 {
				t.Errorf("%s: no promtool test where it stays quiet", r.Alert)
			}
			delete(fires, r.Alert)
			delete(quiet, r.Alert)
		}
	}
	for a := range fires {
		t.Errorf("promtool tests of an unknown alert %s", a)
	}
	for a := range quiet {
		t.Errorf("promtool tests of an unknown alert %s", a)
	}
}

// ruleCRDHeader is the PrometheusRule around the groups of alerts.yaml.
const ruleCRDHeader = `# The rules of deploy/prometheus/alerts.yaml as a prometheus-operator
# PrometheusRule: kubectl apply -k deploy/kubernetes/monitoring
# Generated: go -C deploy test -run TestPrometheusRule -update
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: hanko-authz
  namespace: hanko-authz
  labels:
    app.kubernetes.io/name: hanko-authz
spec:
`

// ruleCRD returns the PrometheusRule that carries the groups of
// alerts.yaml: its text from `groups:` on, indented under spec.
func ruleCRD(alerts []byte) ([]byte, error) {
	i := bytes.Index(alerts, []byte("\ngroups:\n"))
	if i < 0 {
		return nil, fmt.Errorf("%s: no top-level groups:", alertsFile)
	}
	var b bytes.Buffer
	b.WriteString(ruleCRDHeader)
	for _, line := range strings.SplitAfter(string(alerts[i+1:]), "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString("  ")
		}
		b.WriteString(line)
	}
	return b.Bytes(), nil
}

// TestPrometheusRule checks that the PrometheusRule carries exactly the
// rules of alerts.yaml (as text, and as decoded rules) and decodes
// strictly into the prometheus-operator's type.
func TestPrometheusRule(t *testing.T) {
	want, err := ruleCRD(readFile(t, alertsFile))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(ruleCRDFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := readFile(t, ruleCRDFile); !bytes.Equal(got, want) {
		t.Fatalf("%s differs from %s: run go -C deploy test -run TestPrometheusRule -update", ruleCRDFile, alertsFile)
	}

	var pr monitoringv1.PrometheusRule
	if err := unmarshalStrictYAML(readFile(t, ruleCRDFile), &pr); err != nil {
		t.Fatal(err)
	}
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" || pr.Name != "hanko-authz" || pr.Namespace != k8sNamespace {
		t.Errorf("%s %s %s/%s", pr.APIVersion, pr.Kind, pr.Namespace, pr.Name)
	}
	groups := loadAlerts(t).Groups
	if len(pr.Spec.Groups) != len(groups) {
		t.Fatalf("%d groups, want %d", len(pr.Spec.Groups), len(groups))
	}
	for i, g := range groups {
		pg := pr.Spec.Groups[i]
		if pg.Name != g.Name || len(pg.Rules) != len(g.Rules) {
			t.Errorf("group %s (%d rules), want %s (%d rules)", pg.Name, len(pg.Rules), g.Name, len(g.Rules))
			continue
		}
		for j, r := range g.Rules {
			pr := pg.Rules[j]
			var prFor string
			if pr.For != nil {
				prFor = string(*pr.For)
			}
			if pr.Alert != r.Alert || pr.Expr.String() != r.Expr || prFor != r.For.String() ||
				!maps.Equal(pr.Labels, r.Labels) || !maps.Equal(pr.Annotations, r.Annotations) {
				t.Errorf("rule %s differs from alerts.yaml's %s", pr.Alert, r.Alert)
			}
		}
	}

	// The kustomization of the monitoring directory applies it.
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	if err := unmarshalStrictYAML(readFile(t, "kubernetes/monitoring/kustomization.yaml"), &k); err != nil {
		t.Fatal(err)
	}
	if k.Kind != "Kustomization" || !slices.Equal(k.Resources, []string{"prometheusrule.yaml"}) {
		t.Errorf("monitoring kustomization: %s %v, want resources [prometheusrule.yaml]", k.Kind, k.Resources)
	}
}

// TestAlertsAreStrict shows that a misspelt field and a broken
// expression are rejected.
func TestAlertsAreStrict(t *testing.T) {
	src := readFile(t, alertsFile)
	for _, bad := range [][]byte{
		mutate(t, src, "for: 5m\n        labels:\n          severity: critical\n        annotations:\n          summary: \"{{ $labels.instance }} has not",
			"fro: 5m\n        labels:\n          severity: critical\n        annotations:\n          summary: \"{{ $labels.instance }} has not"),
		mutate(t, src, "max by (job, instance) (hankoauth_jwks_age_seconds) > 1800", "max by (job, instance) (hankoauth_jwks_age_seconds > 1800"),
	} {
		if _, errs := rulefmt.Parse(bad, false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler)); len(errs) == 0 {
			t.Error("a broken rule file accepted")
		}
	}
}
