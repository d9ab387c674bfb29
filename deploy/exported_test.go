package deploy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	dto "github.com/prometheus/client_model/go"
)

// pendingMetrics are metrics that the dashboard and the alerts may use
// ahead of the binary. A query may name them although the scraped
// hanko-authz does not export them; once it does,
// TestQueriesNameExportedMetrics fails until the name is removed here, so
// that the check becomes strict for it. Empty: every metric the dashboard
// and the alerts name is exported today.
var pendingMetrics = map[string]bool{}

// externalMetrics are metrics of other exporters that the alerts use:
// kube-state-metrics' view of the Deployment.
var externalMetrics = map[string]bool{
	"kube_deployment_status_replicas_available": true,
	"kube_deployment_spec_replicas":             true,
}

// targetLabels are the labels Prometheus adds to every scraped series.
var targetLabels = map[string]bool{"job": true, "instance": true}

// exported maps each series name that hanko-authz exports (a histogram's
// _bucket, _sum and _count) to its label names.
type exported map[string]map[string]bool

var (
	scrapeOnce   sync.Once
	scrapeResult exported
	scrapeErr    error
)

// exportedMetrics builds cmd/hanko-authz from the parent module, runs
// `hanko-authz dev` for its fake Hanko (the hankotest package) and a
// session minted there, runs `hanko-authz serve` against that Hanko
// (every listener on 127.0.0.1 and a free port), sends serve an allowed
// and a denied HTTP ext_authz request, and scrapes its /metrics. It does
// this once per test binary.
func exportedMetrics(t *testing.T) exported {
	t.Helper()
	scrapeOnce.Do(func() { scrapeResult, scrapeErr = scrape(t.TempDir()) })
	if scrapeErr != nil {
		t.Fatal(scrapeErr)
	}
	return scrapeResult
}

func scrape(dir string) (_ exported, err error) {
	bin := filepath.Join(dir, "hanko-authz")
	build := exec.Command("go", "build", "-o", bin, "./cmd/hanko-authz")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/hanko-authz: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stops []func() string
	defer func() {
		cancel() // kills the processes
		for _, stop := range stops {
			if out := stop(); err != nil {
				err = fmt.Errorf("%w\n%s", err, out)
			}
		}
	}()

	// dev provides the fake Hanko, on a free port of 127.0.0.1, and a
	// session it minted; it prints both once ready.
	dev, devOut, stopDev, err := start(ctx, bin, "dev",
		"--hanko-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	stops = append(stops, stopDev)
	var hankoURL, token string
	for (hankoURL == "" || token == "") && devOut.Scan() {
		l := strings.TrimSpace(devOut.Text())
		if rest, ok := strings.CutPrefix(l, "fake Hanko"); ok && hankoURL == "" {
			if f := strings.Fields(rest); len(f) > 0 {
				hankoURL = f[0]
			}
		}
		if v, ok := strings.CutPrefix(l, "export TOKEN="); ok {
			token = v
		}
	}
	if hankoURL == "" || token == "" {
		return nil, fmt.Errorf("hanko-authz dev printed no fake Hanko URL and token (scan: %v)", devOut.Err())
	}
	go io.Copy(io.Discard, dev) // keep the pipe drained until exit

	// serve against it; it logs its addresses in JSON on stderr.
	// With the webhook receiver and a revocation stream, so that their
	// metrics are exported too. The stream's Redis is a closed port: serve
	// keeps serving without it (revalidation is the backstop) and exports
	// the stream's state all the same.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	redisURL := "redis://" + closed.Addr().String()
	closed.Close()
	serve, serveLog, stopServe, err := start(ctx, bin, "serve", "--hanko-url", hankoURL,
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-format", "json",
		"--webhooks", "--revocation-redis", redisURL)
	if err != nil {
		return nil, err
	}
	stops = append(stops, stopServe)
	var httpAddr string
	for httpAddr == "" && serveLog.Scan() {
		var l struct {
			Msg      string `json:"msg"`
			HTTPAddr string `json:"http_addr"`
		}
		if json.Unmarshal(serveLog.Bytes(), &l) == nil && l.Msg == "hanko-authz serving" {
			httpAddr = l.HTTPAddr
		}
	}
	if httpAddr == "" {
		return nil, fmt.Errorf("hanko-authz serve logged no HTTP address (scan: %v)", serveLog.Err())
	}
	go io.Copy(io.Discard, serve)
	if host, _, err := net.SplitHostPort(httpAddr); err != nil || host != "127.0.0.1" {
		return nil, fmt.Errorf("HTTP address %q is not on 127.0.0.1", httpAddr)
	}
	base := "http://" + httpAddr
	client := &http.Client{Timeout: 10 * time.Second}
	if err := waitReady(ctx, client, base+"/readyz"); err != nil {
		return nil, err
	}

	// One allowed and one denied decision, so that every vector has
	// had a sample whatever the metrics package pre-creates.
	for _, c := range []struct {
		auth string
		want int
	}{{"Bearer " + token, http.StatusOK}, {"", http.StatusUnauthorized}} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/authz/api/orders", nil)
		if err != nil {
			return nil, err
		}
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			return nil, fmt.Errorf("GET /authz/api/orders (auth %t): %d, want %d", c.auth != "", resp.StatusCode, c.want)
		}
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	tp := expfmt.NewTextParser(model.LegacyValidation)
	families, err := tp.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	e := seriesNames(families)
	// A scrape of hanko-authz has its own metrics and the gRPC server's.
	for _, name := range []string{"hankoauth_build_info", "hankoauth_decisions_total", "grpc_server_handled_total"} {
		if e[name] == nil {
			return nil, fmt.Errorf("/metrics has no %s", name)
		}
	}
	return e, nil
}

// start starts bin with args and returns the output the caller reads
// (stdout for dev, stderr for serve's log), a scanner over it, and a
// function that waits for the process (which ctx's end kills) and returns
// its exit status and other output.
func start(ctx context.Context, bin string, args ...string) (io.Reader, *bufio.Scanner, func() string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	var other strings.Builder
	var r io.Reader
	var err error
	if args[0] == "dev" {
		r, err = cmd.StdoutPipe()
		cmd.Stderr = &other
	} else {
		r, err = cmd.StderrPipe()
		cmd.Stdout = &other
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	stop := func() string {
		err := cmd.Wait()
		return fmt.Sprintf("hanko-authz %s: exit: %v; output:\n%s", args[0], err, other.String())
	}
	return r, bufio.NewScanner(r), stop, nil
}

// waitReady polls url until it answers 200.
func waitReady(ctx context.Context, client *http.Client, url string) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %v", url, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// seriesNames maps the families to the names their series have in
// PromQL, with their label names.
func seriesNames(families map[string]*dto.MetricFamily) exported {
	e := exported{}
	add := func(name string, m *dto.Metric, extra ...string) {
		ls := e[name]
		if ls == nil {
			ls = map[string]bool{}
			e[name] = ls
		}
		for _, lp := range m.GetLabel() {
			ls[lp.GetName()] = true
		}
		for _, l := range extra {
			ls[l] = true
		}
	}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				add(name+"_bucket", m, "le")
				add(name+"_sum", m)
				add(name+"_count", m)
			case dto.MetricType_SUMMARY:
				add(name, m, "quantile")
				add(name+"_sum", m)
				add(name+"_count", m)
			default:
				add(name, m)
			}
		}
	}
	return e
}

// promql parses PromQL the way Prometheus does by default.
var promql = parser.NewParser(parser.Options{})

// grafanaVariables replaces the Grafana variables that may stand where
// PromQL wants a duration; the others ($job, $instance) only appear in
// label values, which are strings to PromQL.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// checkNames parses expr and reports, through errorf, a selector whose
// metric hanko-authz does not export (unless external or pending) or
// whose label matchers name a label the metric does not carry. It returns
// the pending metrics expr uses.
func checkNames(expr string, e exported, allowExternal bool, errorf func(string, ...any)) (pending []string) {
	node, err := promql.ParseExpr(grafanaVariables.Replace(expr))
	if err != nil {
		errorf("%q does not parse: %v", expr, err)
		return nil
	}
	selectors := 0
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		selectors++
		name := vs.Name
		if name == "" {
			errorf("%q: a selector without a metric name: %s", expr, vs)
			return nil
		}
		labels, isExported := e[name]
		switch {
		case isExported && pendingMetrics[name]:
			errorf("%s is exported now: remove it from pendingMetrics", name)
		case isExported:
			for _, m := range vs.LabelMatchers {
				if m.Name != model.MetricNameLabel && !targetLabels[m.Name] && !labels[m.Name] {
					errorf("%q: %s has no label %q (it has %v)", expr, name, m.Name, keys(labels))
				}
			}
		case pendingMetrics[name]:
			pending = append(pending, name)
		case allowExternal && externalMetrics[name]:
		default:
			errorf("%q names %s, which hanko-authz does not export", expr, name)
		}
		return nil
	})
	if selectors == 0 {
		errorf("%q selects no series", expr)
	}
	return pending
}

func keys(m map[string]bool) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
