package tracing

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/test/bufconn"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
)

// inMemory installs a tracer provider that records into memory as the
// global one, with the W3C propagator, for the test's duration.
func inMemory(t *testing.T) *tracetest.InMemoryExporter {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	})
	return exp
}

// recorder keeps the headers of the requests that reach the fake Hanko.
type recorder struct {
	mu      sync.Mutex
	headers map[string][]http.Header // by path
}

func (r *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.headers[req.URL.Path] = append(r.headers[req.URL.Path], req.Header.Clone())
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	})
}

func (r *recorder) get(path string) []http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.headers[path]
}

func TestTransportSpans(t *testing.T) {
	exp := inMemory(t)
	hanko, err := hankotest.New()
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{headers: make(map[string][]http.Header)}
	srv := httptest.NewServer(rec.wrap(hanko.Handler()))
	defer srv.Close()

	v, err := hankoauth.New(hankoauth.Config{
		APIURL:     srv.URL,
		HTTPClient: &http.Client{Timeout: 5 * time.Second, Transport: Transport(nil)},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatalf("validator not ready: %v", err)
	}
	exp.Reset()

	m := hanko.MustMint(t, hankotest.Session{Email: "alice@example.com"})
	ctx, caller := otel.Tracer("test").Start(context.Background(), "caller")
	if _, err := v.Validate(ctx, m.Token); err != nil {
		t.Fatal(err)
	}
	caller.End()
	if _, err := hanko.RotateKey(); err != nil {
		t.Fatal(err)
	}
	// A token of the new key makes the validator fetch the JWKS again.
	m2 := hanko.MustMint(t, hankotest.Session{})
	if _, err := v.Validate(context.Background(), m2.Token); err != nil {
		t.Fatal(err)
	}

	spans := exp.GetSpans()
	byName := make(map[string][]tracetest.SpanStub)
	for _, s := range spans {
		byName[s.Name] = append(byName[s.Name], s)
	}
	validate := byName["hanko POST /sessions/validate"]
	jwks := byName["hanko GET /.well-known/jwks.json"]
	if len(validate) != 2 || len(jwks) != 1 {
		names := make([]string, 0, len(spans))
		for _, s := range spans {
			names = append(names, s.Name)
		}
		t.Fatalf("spans %q: want 2 validate and 1 JWKS", names)
	}
	first := validate[0]
	if first.SpanKind != trace.SpanKindClient || jwks[0].SpanKind != trace.SpanKindClient {
		t.Errorf("span kinds %v, %v; want client", first.SpanKind, jwks[0].SpanKind)
	}
	cs := caller.SpanContext()
	if first.SpanContext.TraceID() != cs.TraceID() || first.Parent.SpanID() != cs.SpanID() {
		t.Errorf("validate span in trace %s under %s; want trace %s under the caller %s",
			first.SpanContext.TraceID(), first.Parent.SpanID(), cs.TraceID(), cs.SpanID())
	}
	if jwks[0].Parent.IsValid() {
		t.Errorf("the JWKS fetch has a parent %s; the validator fetches in the background", jwks[0].Parent.SpanID())
	}
	// The trace went on to Hanko.
	var sent string
	for _, h := range rec.get("/sessions/validate") {
		if tp := h.Get("Traceparent"); strings.Contains(tp, cs.TraceID().String()) {
			sent = tp
		}
	}
	if sent == "" {
		t.Errorf("no request to Hanko carried the caller's trace %s", cs.TraceID())
	}

	// Nothing in any span carries a token, a user id or a header.
	secrets := []string{m.Token, m.UserID, m.SessionID, m2.Token, m2.UserID, m2.SessionID, "alice@example.com"}
	for _, s := range spans {
		for _, kv := range s.Attributes {
			k, val := string(kv.Key), kv.Value.String()
			if strings.HasPrefix(k, "http.request.header") || strings.HasPrefix(k, "http.response.header") {
				t.Errorf("span %q records a header: %s", s.Name, k)
			}
			for _, sec := range secrets {
				if strings.Contains(val, sec) {
					t.Errorf("span %q attribute %s carries a secret", s.Name, k)
				}
			}
		}
		for _, e := range s.Events {
			for _, kv := range e.Attributes {
				for _, sec := range secrets {
					if strings.Contains(kv.Value.String(), sec) {
						t.Errorf("span %q event %q carries a secret", s.Name, e.Name)
					}
				}
			}
		}
	}
	// No header to Hanko carries credentials.
	for path, hs := range rec.headers {
		for _, h := range hs {
			if h.Get("Authorization") != "" || h.Get("Cookie") != "" {
				t.Errorf("a request to %s carries credentials in its headers", path)
			}
		}
	}
}

func TestSpanName(t *testing.T) {
	for _, c := range []struct{ method, url, want string }{
		{"GET", "https://auth.example.com/.well-known/jwks.json", "hanko GET /.well-known/jwks.json"},
		{"POST", "https://example.com/hanko/sessions/validate", "hanko POST /sessions/validate"},
		{"GET", "https://auth.example.com/health/ready", "hanko GET"},
		{"GET", "https://auth.example.com/users/0b5c4b8a-5d2c-4f36-9b7e-6f2b1f0c1a2b", "hanko GET"},
	} {
		r := httptest.NewRequest(c.method, c.url, nil)
		if got := spanName("", r); got != c.want {
			t.Errorf("spanName(%s %s) = %q, want %q", c.method, c.url, got, c.want)
		}
	}
}

func TestServerOption(t *testing.T) {
	exp := inMemory(t)
	srv := grpc.NewServer(ServerOption())
	healthpb.RegisterHealthServer(srv, health.NewServer())
	testpb.RegisterTestServiceServer(srv, &testpb.UnimplementedTestServiceServer{})
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	if _, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	_, _ = testpb.NewTestServiceClient(conn).EmptyCall(t.Context(), &testpb.Empty{})

	deadline := time.Now().Add(5 * time.Second)
	for len(exp.GetSpans()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the server ends its span after the client returns
	}
	time.Sleep(50 * time.Millisecond)
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Name != "grpc.testing.TestService/EmptyCall" || spans[0].SpanKind != trace.SpanKindServer {
		for _, s := range spans {
			t.Logf("span %q kind %v", s.Name, s.SpanKind)
		}
		t.Fatalf("got %d spans; want one server span for EmptyCall and none for the health check", len(spans))
	}
}

func TestTraceID(t *testing.T) {
	if got := TraceID(context.Background()); got != "" {
		t.Errorf("TraceID without a span = %q, want empty", got)
	}
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, Remote: true})
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), sc)
	if got := TraceID(ctx); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("TraceID = %q", got)
	}
	inMemory(t)
	ctx, span := otel.Tracer("test").Start(context.Background(), "x")
	defer span.End()
	if got, want := TraceID(ctx), span.SpanContext().TraceID().String(); got != want || len(got) != 32 {
		t.Errorf("TraceID = %q, want %q", got, want)
	}
}

// clearEnv unsets the variables Setup looks at.
func clearEnv(t *testing.T) {
	for _, k := range []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SDK_DISABLED",
	} {
		t.Setenv(k, "")
	}
}

// keepGlobals restores the global provider and propagator after the test.
func keepGlobals(t *testing.T) {
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() {
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	})
}

func TestSetupDisabled(t *testing.T) {
	keepGlobals(t)
	clearEnv(t)
	before := otel.GetTracerProvider()
	shutdown, enabled, err := Setup(t.Context(), "test", "v0")
	if err != nil || enabled {
		t.Fatalf("Setup = %v, %v; want disabled, no error", enabled, err)
	}
	if otel.GetTracerProvider() != before {
		t.Error("Setup installed a tracer provider while disabled")
	}
	if err := shutdown(t.Context()); err != nil {
		t.Error(err)
	}

	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	t.Setenv("OTEL_SDK_DISABLED", "true")
	if _, enabled, err := Setup(t.Context(), "test", "v0"); err != nil || enabled {
		t.Fatalf("with OTEL_SDK_DISABLED: Setup = %v, %v; want disabled", enabled, err)
	}
}

func TestSetupUnknownProtocol(t *testing.T) {
	keepGlobals(t)
	clearEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	if _, enabled, err := Setup(t.Context(), "test", "v0"); err == nil || enabled {
		t.Fatalf("Setup = %v, %v; want an error", enabled, err)
	}
}

// closedPort returns a loopback address that nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestSetupUnreachableCollector(t *testing.T) {
	for _, c := range []struct{ name, protocol, env string }{
		{"http", "", "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"grpc", "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"traces endpoint", "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
	} {
		t.Run(c.name, func(t *testing.T) {
			keepGlobals(t)
			clearEnv(t)
			t.Setenv(c.env, "http://"+closedPort(t))
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", c.protocol)
			shutdown, enabled, err := Setup(t.Context(), "test", "v0")
			if err != nil || !enabled {
				t.Fatalf("Setup = %v, %v; want enabled", enabled, err)
			}
			_, span := otel.Tracer("test").Start(context.Background(), "work")
			if !span.SpanContext().IsValid() || !span.IsRecording() {
				t.Error("the installed provider does not record")
			}
			span.End()

			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			start := time.Now()
			_ = shutdown(ctx) // the export fails; only the time matters
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("shutdown took %v with a 1 s context", d)
			}
		})
	}
}

func TestShutdownBoundedWithoutDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the default shutdown timeout")
	}
	keepGlobals(t)
	clearEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+closedPort(t))
	shutdown, _, err := Setup(t.Context(), "test", "v0")
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(context.Background(), "work")
	span.End()
	start := time.Now()
	_ = shutdown(context.Background())
	if d := time.Since(start); d > DefaultShutdownTimeout+2*time.Second {
		t.Errorf("shutdown without a deadline took %v", d)
	}
}
