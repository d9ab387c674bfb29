package grafana

//lint:file-ignore SA1019 the classic dashboard JSON model (dashboard, not dashboardv2) is what every Grafana since 10 imports; v2 needs Grafana 12's new dashboard API.

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// UID is the dashboard's uid: its address in Grafana stays the same
// across imports.
const UID = "hankoauth"

// sel selects the series of the replicas picked in the dashboard's
// variables; every query carries it.
const sel = `job=~"$job", instance=~"$instance"`

// rateWindow is Grafana's rate interval: at least four scrape intervals.
const rateWindow = "$__rate_interval"

// datasource points every query at the dashboard's Prometheus variable.
var datasource = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// JSON returns the dashboard as indented JSON with a trailing newline: the
// contents of deploy/grafana/hankoauth.json.
func JSON() ([]byte, error) {
	d, err := Dashboard()
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Dashboard builds the dashboard: a row per concern, each a few panels.
func Dashboard() (dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder("hanko-authz").
		Uid(UID).
		Description("Decisions, cache, calls to Hanko, revocations, gRPC server and process of hanko-authz.").
		Tags([]string{"hankoauth", "hanko-authz"}).
		Editable().
		Refresh("30s").
		Time("now-6h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").
			Label("Data source").
			Type("prometheus")).
		WithVariable(labelVariable("job", "Job", "label_values(hankoauth_build_info, job)")).
		WithVariable(labelVariable("instance", "Instance", `label_values(hankoauth_build_info{job=~"$job"}, instance)`))
	for _, r := range rows() {
		b = b.WithRow(dashboard.NewRowBuilder(r.title))
		for _, p := range r.panels {
			b = b.WithPanel(p)
		}
	}
	d, err := b.Build()
	if err != nil {
		return d, err
	}
	// Number the panels and rows in order: Grafana wants ids unique
	// within a dashboard, and fixed ids keep links to panels stable.
	for i, p := range d.Panels {
		id := uint32(i + 1)
		switch {
		case p.Panel != nil:
			p.Panel.Id = &id
		case p.RowPanel != nil:
			p.RowPanel.Id = id
		}
	}
	return d, nil
}

// labelVariable is a multi-value variable over the values of a label,
// "All" by default.
func labelVariable(name, label, query string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(datasource).
		Query(dashboard.StringOrMap{String: cog.ToPtr(query)}).
		Definition(query).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).
		IncludeAll(true).
		AllValue(".*").
		Current(dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{String: cog.ToPtr("All")},
			Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("$__all")},
		})
}

type row struct {
	title  string
	panels []cog.Builder[dashboard.Panel]
}

// rows lists the dashboard's rows, top to bottom: first decisions, cache,
// Hanko, gRPC and process, then revocation fan-out, webhooks and the
// Hanko-outage policy (revocationAndOutageRows).
func rows() []row {
	return append(currentRows(), revocationAndOutageRows()...)
}

func currentRows() []row {
	return []row{
		{"Decisions", []cog.Builder[dashboard.Panel]{
			graph("Decisions by result", "reqps", "Requests decided per second by every edge (gRPC interceptor, Envoy ext_authz, HTTP ext_authz), by result.",
				q(`sum by (edge, result) (rate(hankoauth_decisions_total{%s}[%s]))`, sel, rateWindow).legend("{{edge}} {{result}}")).stacked(),
			graph("Denials by reason", "reqps", "Denied requests per second by reason code; the README's troubleshooting table says what each means.",
				q(`sum by (reason) (rate(hankoauth_decisions_total{%s, result="deny"}[%s]))`, sel, rateWindow).legend("{{reason}}")).stacked(),
			graph("Denial ratio", "percentunit", "Share of decisions that denied the request.",
				q(`sum(rate(hankoauth_decisions_total{%s, result="deny"}[%[2]s])) / sum(rate(hankoauth_decisions_total{%[1]s}[%[2]s]))`, sel, rateWindow).legend("denied")).max(1),
			graph("Validation latency", "s", "Duration of token validations by the way they were decided (cache, local signature check, remote call to Hanko).",
				q(`histogram_quantile(0.5, sum by (le, path) (rate(hankoauth_validation_duration_seconds_bucket{%s}[%s])))`, sel, rateWindow).legend("p50 {{path}}"),
				q(`histogram_quantile(0.99, sum by (le, path) (rate(hankoauth_validation_duration_seconds_bucket{%s}[%s])))`, sel, rateWindow).legend("p99 {{path}}")),
		}},
		{"Token cache", []cog.Builder[dashboard.Panel]{
			graph("Cache hit ratio", "percentunit", "Share of validations the token cache answered.",
				q(`sum(rate(hankoauth_cache_hits_total{%[1]s}[%[2]s])) / (sum(rate(hankoauth_cache_hits_total{%[1]s}[%[2]s])) + sum(rate(hankoauth_cache_misses_total{%[1]s}[%[2]s])))`, sel, rateWindow).legend("hit ratio")).max(1),
			graph("Cache entries", "short", "Tokens cached per replica (an estimate); bounded by --cache-size.",
				q(`sum by (instance) (hankoauth_cache_entries{%s})`, sel).legend("{{instance}}")),
			graph("Cache evictions", "ops", "Entries dropped per second to make room (not expiries): steady evictions mean the cache is too small for the active sessions.",
				q(`sum by (instance) (rate(hankoauth_cache_evictions_total{%s}[%s]))`, sel, rateWindow).legend("{{instance}}")),
		}},
		{"Hanko", []cog.Builder[dashboard.Panel]{
			graph("Hanko calls by outcome", "reqps", "Calls to Hanko's POST /sessions/validate per second, by outcome.",
				q(`sum by (outcome) (rate(hankoauth_hanko_requests_total{%s}[%s]))`, sel, rateWindow).legend("{{outcome}}")).stacked(),
			graph("Hanko latency", "s", "Latency percentiles of POST /sessions/validate.",
				q(`histogram_quantile(0.5, sum by (le) (rate(hankoauth_hanko_request_duration_seconds_bucket{%s}[%s])))`, sel, rateWindow).legend("p50"),
				q(`histogram_quantile(0.9, sum by (le) (rate(hankoauth_hanko_request_duration_seconds_bucket{%s}[%s])))`, sel, rateWindow).legend("p90"),
				q(`histogram_quantile(0.99, sum by (le) (rate(hankoauth_hanko_request_duration_seconds_bucket{%s}[%s])))`, sel, rateWindow).legend("p99")),
			graph("Hanko requests in flight", "short", "HTTP requests to Hanko (JWKS and session validation) under way.",
				q(`sum by (instance) (hankoauth_hanko_requests_in_flight{%s})`, sel).legend("{{instance}}")),
			graph("JWKS age", "s", "Seconds since each replica fetched Hanko's JWKS; it refreshes after Hanko's Cache-Control max-age (600 s).",
				q(`max by (instance) (hankoauth_jwks_age_seconds{%s})`, sel).legend("{{instance}}")),
			graph("JWKS refreshes", "ops", "Fetches of Hanko's JWKS per second, by outcome.",
				q(`sum by (outcome) (rate(hankoauth_jwks_refreshes_total{%s}[%s]))`, sel, rateWindow).legend("{{outcome}}")).stacked(),
			graph("JWKS keys", "short", "Usable keys in each replica's current JWKS.",
				q(`min by (instance) (hankoauth_jwks_keys{%s})`, sel).legend("{{instance}}")),
		}},
		{"gRPC server", []cog.Builder[dashboard.Panel]{
			graph("gRPC requests", "reqps", "RPCs handled per second by method and status code.",
				q(`sum by (grpc_service, grpc_method, grpc_code) (rate(grpc_server_handled_total{%s}[%s]))`, sel, rateWindow).legend("{{grpc_method}} {{grpc_code}}")).stacked(),
			graph("gRPC errors", "reqps", "RPCs per second that ended with a status other than OK (Unauthenticated and PermissionDenied are denials, not faults).",
				q(`sum by (grpc_method, grpc_code) (rate(grpc_server_handled_total{%s, grpc_code!="OK"}[%s]))`, sel, rateWindow).legend("{{grpc_method}} {{grpc_code}}")).stacked(),
			graph("gRPC latency p99", "s", "99th percentile of RPC handling time by method; Envoy's ext_authz timeout is 0.5 s.",
				q(`histogram_quantile(0.99, sum by (le, grpc_method) (rate(grpc_server_handling_seconds_bucket{%s}[%s])))`, sel, rateWindow).legend("{{grpc_method}}")),
		}},
		{"Process", []cog.Builder[dashboard.Panel]{
			graph("Memory", "bytes", "Resident memory and Go heap in use per replica.",
				q(`process_resident_memory_bytes{%s}`, sel).legend("rss {{instance}}"),
				q(`go_memstats_heap_inuse_bytes{%s}`, sel).legend("heap {{instance}}")),
			graph("Goroutines", "short", "Goroutines per replica.",
				q(`go_goroutines{%s}`, sel).legend("{{instance}}")),
			graph("CPU", "short", "CPU cores used per replica.",
				q(`rate(process_cpu_seconds_total{%s}[%s])`, sel, rateWindow).legend("{{instance}}")),
			single("Versions", "Replicas per hanko-authz version.",
				q(`count by (version) (hankoauth_build_info{%s})`, sel).legend("{{version}}")),
		}},
	}
}

// revocationAndOutageRows are the panels over the metrics of revocation fan-out
// (webhooks and the Redis stream) and of the Hanko-outage policy. The
// stream's gauges are exported only with --revocation-redis.
func revocationAndOutageRows() []row {
	return []row{
		{"Revocations and webhooks", []cog.Builder[dashboard.Panel]{
			graph("Revocations applied", "ops", "Revocations applied per second by source (webhook, stream, api).",
				q(`sum by (source) (rate(hankoauth_revocations_applied_total{%s}[%s]))`, sel, rateWindow).legend("{{source}}")).stacked(),
			graph("Revocations in force", "short", "Revocations each replica holds (sessions and users) against its ceiling.",
				q(`max by (instance) (hankoauth_revocations_active{%s})`, sel).legend("active {{instance}}"),
				q(`max by (instance) (hankoauth_revocations_capacity{%s})`, sel).legend("capacity {{instance}}")),
			graph("Revocations refused", "ops", "Revocations refused per second because the store was full (--max-revocations): each is a revoked session that stays valid until revalidation.",
				q(`sum by (instance, source) (rate(hankoauth_revocations_refused_total{%s}[%s]))`, sel, rateWindow).legend("{{instance}} {{source}}")),
			graph("Webhook deliveries", "reqps", "Hanko webhook deliveries per second by event and result.",
				q(`sum by (event, result) (rate(hankoauth_webhooks_total{%s}[%s]))`, sel, rateWindow).legend("{{event}} {{result}}")).stacked(),
			graph("Revocation stream", "s", "Age of the newest revocation applied from the Redis stream, per replica.",
				q(`max by (instance) (hankoauth_revocation_stream_lag_seconds{%s})`, sel).legend("lag {{instance}}")),
			graph("Revocation stream connected", "short", "1 when the replica is connected to the Redis stream.",
				q(`min by (instance) (hankoauth_revocation_stream_up{%s})`, sel).legend("{{instance}}")).max(1),
		}},
		{"Hanko outage", []cog.Builder[dashboard.Panel]{
			graph("Degraded replicas", "short", "Replicas serving under the Hanko-outage policy (--hanko-outage).",
				q(`sum(hankoauth_degraded{%s})`, sel).legend("degraded")),
			graph("Outage decisions", "reqps", "Decisions per second taken under the Hanko-outage policy, by policy and result.",
				q(`sum by (policy, result) (rate(hankoauth_outage_decisions_total{%s}[%s]))`, sel, rateWindow).legend("{{policy}} {{result}}")).stacked(),
		}},
	}
}

// query is one PromQL target and its legend.
type query struct {
	expr, legendFormat string
}

// q formats a PromQL expression.
func q(format string, args ...any) query {
	return query{expr: fmt.Sprintf(format, args...)}
}

func (x query) legend(l string) query { x.legendFormat = l; return x }

func (x query) target(refID string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(datasource).
		RefId(refID).
		Expr(x.expr).
		LegendFormat(x.legendFormat)
}

// timeSeries wraps the SDK's builder to add the few settings most panels
// share.
type timeSeries struct {
	*timeseries.PanelBuilder
}

// graph is a time series panel, a third of the width.
func graph(title, unit, description string, queries ...query) timeSeries {
	p := timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource).
		Unit(unit).
		Min(0).
		Span(8).
		Height(8).
		FillOpacity(10).
		ShowPoints(common.VisibilityModeNever).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeMulti).
			Sort(common.SortOrderDescending))
	for i, x := range queries {
		p = p.WithTarget(x.target(string(rune('A' + i))).Range())
	}
	return timeSeries{p}
}

// stacked stacks the panel's series: parts of one total.
func (t timeSeries) stacked() timeSeries {
	t.Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal))
	return t
}

func (t timeSeries) max(v float64) timeSeries {
	t.Max(v)
	return t
}

// single is a stat panel over the last value of its queries.
func single(title, description string, queries ...query) *stat.PanelBuilder {
	p := stat.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource).
		Span(8).
		Height(8).
		TextMode(common.BigValueTextModeValueAndName).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}))
	for i, x := range queries {
		p = p.WithTarget(x.target(string(rune('A' + i))).Instant())
	}
	return p
}
