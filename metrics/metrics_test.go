package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
	"github.com/hankoauth/hankoauth/interceptor"
)

// fixture is a Metrics on its own registry, a fake Hanko and a validator
// wired to both, as the binary wires them.
type fixture struct {
	reg   *prometheus.Registry
	m     *Metrics
	hanko *hankotest.Server
	v     *hankoauth.Validator
}

func newFixture(t *testing.T, mode hankoauth.Mode) *fixture {
	t.Helper()
	f := &fixture{reg: prometheus.NewRegistry(), hanko: hankotest.NewServer()}
	t.Cleanup(f.hanko.Close)
	m, err := New(f.reg, WithVersion("v0.0.0-test"))
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	v, err := hankoauth.New(hankoauth.Config{
		APIURL:     f.hanko.URL,
		Mode:       mode,
		Hooks:      m.Hooks(),
		HTTPClient: &http.Client{Timeout: 5 * time.Second, Transport: m.InstrumentTransport(nil)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	m.ObserveValidator(v)
	f.v = v
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatalf("validator not ready: %v", err)
	}
	return f
}

// scrape fetches the metrics over HTTP, as Prometheus does, and parses
// the text exposition.
func scrape(t *testing.T, g prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(Handler(g))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: %s: %s", resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// sample finds the series of name whose labels include labels (given as
// name, value pairs) and returns its value: a counter's or gauge's value,
// a histogram's sample count. ok is false when there is no such series.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// check asserts that each series has its wanted value.
func check(t *testing.T, fams map[string]*dto.MetricFamily, want []series) {
	t.Helper()
	for _, w := range want {
		got, ok := sample(fams, w.name, w.labels...)
		if !ok {
			t.Errorf("%s%v: no such series", w.name, w.labels)
			continue
		}
		if got != w.value {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.value)
		}
	}
}

type series struct {
	name   string
	labels []string
	value  float64
}

// checkLabels fails if any label value of any series contains one of the
// secrets, or if a hankoauth_ series has a label value outside its known
// set.
func checkLabels(t *testing.T, fams map[string]*dto.MetricFamily, secrets ...string) {
	t.Helper()
	allowed := map[string]bool{other: true, otherReason: true}
	for _, s := range slicesOf(edges, results, hankoOutcomes, jwksOutcomes) {
		allowed[s] = true
	}
	for _, r := range hankoauth.Reasons() {
		allowed[string(r)] = true
	}
	for _, p := range paths {
		allowed[string(p)] = true
	}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				for _, s := range secrets {
					if s != "" && strings.Contains(lp.GetValue(), s) {
						t.Errorf("%s{%s=%q} carries a secret", name, lp.GetName(), lp.GetValue())
					}
				}
				if strings.HasPrefix(name, namespace+"_") && name != namespace+"_build_info" &&
					lp.GetName() != "le" && !allowed[lp.GetValue()] {
					t.Errorf("%s{%s=%q}: a value outside the known set", name, lp.GetName(), lp.GetValue())
				}
			}
		}
	}
}

func slicesOf(ss ...[]string) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s...)
	}
	return out
}

// TestValidatorSequence runs a scripted sequence against a real validator
// and fake Hanko, and checks over HTTP that each counter moved exactly as
// the sequence says.
func TestValidatorSequence(t *testing.T) {
	f := newFixture(t, hankoauth.ModeHybrid)
	ctx := t.Context()

	before := scrape(t, f.reg)
	check(t, before, []series{
		{"hankoauth_jwks_refreshes_total", []string{"outcome", "ok"}, 1},
		{"hankoauth_jwks_refreshes_total", []string{"outcome", "error"}, 0},
		{"hankoauth_jwks_keys", nil, 1},
		{"hankoauth_cache_hits_total", nil, 0},
		{"hankoauth_cache_misses_total", nil, 0},
		{"hankoauth_hanko_requests_total", []string{"outcome", "valid"}, 0},
		{"hankoauth_hanko_requests_in_flight", nil, 0},
		{"hankoauth_revoked_sessions", nil, 0},
		{"hankoauth_build_info", []string{"version", "v0.0.0-test", "goversion", runtime.Version()}, 1},
	})
	if age, ok := sample(before, "hankoauth_jwks_age_seconds"); !ok || age < 0 || age > 60 {
		t.Errorf("hankoauth_jwks_age_seconds = %v (present %v), want a few seconds", age, ok)
	}

	// A valid token twice: one miss that asks Hanko, then one hit.
	alice := f.hanko.MustMint(t, hankotest.Session{Email: "alice@example.com"})
	for i := range 2 {
		if _, err := f.v.Validate(ctx, alice.Token); err != nil {
			t.Fatalf("validate %d: %v", i, err)
		}
	}
	// Garbage: a miss, rejected locally, Hanko not asked.
	const garbage = "not-a-jwt-garbage-token"
	if _, err := f.v.Validate(ctx, garbage); !errors.Is(err, hankoauth.ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
	// Hanko failing: a miss, an error outcome.
	bob := f.hanko.MustMint(t, hankotest.Session{})
	f.hanko.Fail(hankotest.EndpointValidate, hankotest.Failure{Status: http.StatusInternalServerError, Times: 1})
	if _, err := f.v.Validate(ctx, bob.Token); !errors.Is(err, hankoauth.ErrUnavailable) {
		t.Fatalf("hanko failing: %v", err)
	}
	// No token: decided before any lookup.
	if _, err := f.v.Validate(ctx, ""); !errors.Is(err, hankoauth.ErrNoToken) {
		t.Fatalf("no token: %v", err)
	}
	f.v.RevokeSession(alice.SessionID, time.Hour)

	after := scrape(t, f.reg)
	check(t, after, []series{
		{"hankoauth_cache_hits_total", nil, 1},
		{"hankoauth_cache_misses_total", nil, 3},
		{"hankoauth_cache_evictions_total", nil, 0},
		{"hankoauth_hanko_requests_total", []string{"outcome", "valid"}, 1},
		{"hankoauth_hanko_requests_total", []string{"outcome", "invalid"}, 0},
		{"hankoauth_hanko_requests_total", []string{"outcome", "error"}, 1},
		{"hankoauth_hanko_request_duration_seconds", nil, 2},
		{"hankoauth_hanko_requests_in_flight", nil, 0},
		{"hankoauth_validation_duration_seconds", []string{"path", "cached"}, 1},
		{"hankoauth_validation_duration_seconds", []string{"path", "remote"}, 2},
		{"hankoauth_validation_duration_seconds", []string{"path", "local"}, 1},
		{"hankoauth_validation_duration_seconds", []string{"path", "none"}, 1},
		{"hankoauth_jwks_refreshes_total", []string{"outcome", "ok"}, 1},
		{"hankoauth_revoked_sessions", nil, 1},
	})
	if n, ok := sample(after, "hankoauth_cache_entries"); !ok || n > 1 {
		t.Errorf("hankoauth_cache_entries = %v (present %v), want at most 1", n, ok)
	}
	checkLabels(t, after, alice.Token, alice.UserID, alice.SessionID, bob.Token, bob.UserID, bob.SessionID, garbage)
}

// TestDecisionsOverGRPC sends calls through a real gRPC server with the
// interceptor and the gRPC server metrics over bufconn.
func TestDecisionsOverGRPC(t *testing.T) {
	f := newFixture(t, hankoauth.ModeHybrid)
	gm := f.m.GRPCServerMetrics()
	authn, err := interceptor.New(f.v, interceptor.WithDecisionHook(f.m.Decision),
		interceptor.WithPublicMethods("/grpc.health.v1.Health/Watch"))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(gm.UnaryServerInterceptor(), authn.Unary()),
		grpc.ChainStreamInterceptor(gm.StreamServerInterceptor(), authn.Stream()),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	gm.InitializeMetrics(srv)
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := healthpb.NewHealthClient(conn)

	// Before any call, the known combinations are there at 0.
	check(t, scrape(t, f.reg), []series{
		{"hankoauth_decisions_total", []string{"edge", "interceptor", "result", "allow", "reason", "OK"}, 0},
		{"hankoauth_decisions_total", []string{"edge", "interceptor", "result", "public", "reason", "OK"}, 0},
		{"hankoauth_decisions_total", []string{"edge", "extauthz", "result", "canceled", "reason", "REQUEST_CANCELED"}, 0},
		{"hankoauth_decisions_total", []string{"edge", "extauthz", "result", "deny", "reason", "SESSION_EXPIRED"}, 0},
		{"hankoauth_decisions_total", []string{"edge", "extauthz", "result", "deny", "reason", "HTTP_ATTRIBUTES_MISSING"}, 0},
		{"hankoauth_decisions_total", []string{"edge", "http", "result", "error", "reason", "HANKO_UNAVAILABLE"}, 0},
		{"grpc_server_handled_total", []string{"grpc_service", "grpc.health.v1.Health", "grpc_method", "Check", "grpc_code", "OK"}, 0},
	})

	alice := f.hanko.MustMint(t, hankotest.Session{})
	const garbage = "garbage-token-in-a-header"
	calls := []struct {
		md   metadata.MD
		want codes.Code
	}{
		{metadata.Pairs("authorization", "Bearer "+alice.Token), codes.OK},
		{metadata.Pairs("authorization", "Bearer "+alice.Token), codes.OK},
		{nil, codes.Unauthenticated},
		{metadata.Pairs("authorization", "Bearer "+garbage), codes.Unauthenticated},
	}
	for i, c := range calls {
		ctx := metadata.NewOutgoingContext(t.Context(), c.md)
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		if got := status.Code(err); got != c.want {
			t.Fatalf("call %d: %v, want %v", i, err, c.want)
		}
	}
	// A public method: counted as public, not as an allowed session.
	watch, err := client.Watch(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatalf("public Watch: %v", err)
	}
	// A public decision that claims allow is still counted as public.
	f.m.Decision(t.Context(), hankoauth.Decision{Edge: "http", Result: "allow", Reason: hankoauth.ReasonOK, Public: true})
	// A decision with values outside the known sets, and a token as its
	// target, straight to the hook.
	f.m.Decision(t.Context(), hankoauth.Decision{Edge: "mesh", Result: "maybe", Reason: hankoauth.Reason(alice.Token), Target: alice.Token})

	fams := scrape(t, f.reg)
	check(t, fams, []series{
		{"hankoauth_decisions_total", []string{"edge", "interceptor", "result", "allow", "reason", "OK"}, 2},
		{"hankoauth_decisions_total", []string{"edge", "interceptor", "result", "public", "reason", "OK"}, 1},
		{"hankoauth_decisions_total", []string{"edge", "http", "result", "public", "reason", "OK"}, 1},
		{"hankoauth_decisions_total", []string{"edge", "http", "result", "allow", "reason", "OK"}, 0},
		{"hankoauth_decisions_total", []string{"edge", "interceptor", "result", "deny", "reason", "TOKEN_MISSING"}, 1},
		{"hankoauth_decisions_total", []string{"edge", "interceptor", "result", "deny", "reason", "TOKEN_MALFORMED"}, 1},
		{"hankoauth_decisions_total", []string{"edge", "interceptor", "result", "error", "reason", "HANKO_UNAVAILABLE"}, 0},
		{"hankoauth_decisions_total", []string{"edge", "other", "result", "other", "reason", "OTHER"}, 1},
		{"hankoauth_cache_hits_total", nil, 1},
		{"hankoauth_cache_misses_total", nil, 2},
		{"hankoauth_hanko_requests_total", []string{"outcome", "valid"}, 1},
		{"grpc_server_handled_total", []string{"grpc_service", "grpc.health.v1.Health", "grpc_method", "Check", "grpc_code", "OK"}, 2},
		{"grpc_server_handled_total", []string{"grpc_service", "grpc.health.v1.Health", "grpc_method", "Check", "grpc_code", "Unauthenticated"}, 2},
		{"grpc_server_handling_seconds", []string{"grpc_service", "grpc.health.v1.Health", "grpc_method", "Check"}, 4},
	})
	checkLabels(t, fams, alice.Token, alice.UserID, alice.SessionID, garbage)
}

func TestInFlight(t *testing.T) {
	f := newFixture(t, hankoauth.ModeHybrid)
	alice := f.hanko.MustMint(t, hankotest.Session{})
	f.hanko.Fail(hankotest.EndpointValidate, hankotest.Failure{Delay: 300 * time.Millisecond, Times: 1})
	done := make(chan error, 1)
	go func() {
		_, err := f.v.Validate(context.Background(), alice.Token)
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for gaugeValue(t, f.m.hankoInFlight) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the call to Hanko never showed in flight")
		}
		time.Sleep(time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := gaugeValue(t, f.m.hankoInFlight); got != 0 {
		t.Errorf("in flight after the call = %v, want 0", got)
	}
}

// roundTripFunc is an http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestInstrumentTransport(t *testing.T) {
	m, err := New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var fail bool
	rt := m.InstrumentTransport(roundTripFunc(func(*http.Request) (*http.Response, error) {
		if fail {
			return nil, errors.New("dial: refused")
		}
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("{}"))}, nil
	}))
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/.well-known/jwks.json", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := gaugeValue(t, m.hankoInFlight); got != 1 {
		t.Errorf("in flight before the body is closed = %v, want 1", got)
	}
	resp.Body.Close()
	resp.Body.Close() // a second Close must not count twice
	if got := gaugeValue(t, m.hankoInFlight); got != 0 {
		t.Errorf("in flight after Close = %v, want 0", got)
	}
	fail = true
	if _, err := rt.RoundTrip(req); err == nil {
		t.Fatal("want the transport's error")
	}
	if got := gaugeValue(t, m.hankoInFlight); got != 0 {
		t.Errorf("in flight after an error = %v, want 0", got)
	}
}

func TestRemoteModeHasNoJWKSGauges(t *testing.T) {
	f := newFixture(t, hankoauth.ModeRemote)
	fams := scrape(t, f.reg)
	for _, name := range []string{"hankoauth_jwks_keys", "hankoauth_jwks_age_seconds"} {
		if _, ok := fams[name]; ok {
			t.Errorf("%s is exported in remote mode", name)
		}
	}
	if _, ok := sample(fams, "hankoauth_cache_entries"); !ok {
		t.Error("hankoauth_cache_entries is missing")
	}
}

func TestNoValidatorNoStateGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(reg); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, reg)
	if _, ok := fams["hankoauth_cache_entries"]; ok {
		t.Error("state gauges without a validator")
	}
	if _, ok := sample(fams, "hankoauth_build_info"); !ok {
		t.Error("hankoauth_build_info is missing")
	}
}

func TestDuplicateRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := New(reg); err == nil {
		t.Fatal("New registered its metrics twice")
	}

	// A clash part way through leaves the registry as it was.
	reg = prometheus.NewRegistry()
	clash := prometheus.NewCounter(prometheus.CounterOpts{Name: "hankoauth_cache_evictions_total", Help: "someone else's"})
	reg.MustRegister(clash)
	if _, err := New(reg); err == nil {
		t.Fatal("New ignored a clash")
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range fams {
		names = append(names, f.GetName())
	}
	sort.Strings(names)
	if fmt.Sprint(names) != "[hankoauth_cache_evictions_total]" {
		t.Errorf("after a failed New the registry holds %v", names)
	}
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	m, err := New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	h := m.Hooks()
	d := hankoauth.Decision{Edge: "extauthz", Result: "deny", Reason: hankoauth.ReasonExpired, Target: "/api"}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		h.CacheLookup(true)
		h.CacheLookup(false)
		h.Validated(hankoauth.PathCache, hankoauth.ReasonOK, time.Microsecond)
		h.HankoRequest("valid", time.Millisecond)
		h.KeysRefreshed("ok", 1)
		m.Decision(ctx, d)
	})
	if allocs != 0 {
		t.Errorf("hooks allocate %v times per run, want 0", allocs)
	}
}

func BenchmarkCacheLookup(b *testing.B) {
	m, err := New(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	h := m.Hooks().CacheLookup
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h(true)
		}
	})
}

// gaugeValue reads a gauge directly.
func gaugeValue(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}
