package tracing

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// DefaultShutdownTimeout bounds the shutdown function of Setup when its
// context has no deadline.
const DefaultShutdownTimeout = 5 * time.Second

// Setup installs OpenTelemetry tracing over OTLP, configured by the
// standard OTEL_* environment variables, when OTEL_EXPORTER_OTLP_ENDPOINT
// or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (and OTEL_SDK_DISABLED is
// not "true"). It then sets the global TracerProvider and the W3C
// tracecontext and baggage propagator, and returns enabled true.
// Otherwise it installs nothing, and returns enabled false and a shutdown
// that does nothing.
//
// The protocol is OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else
// OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" (the default, as the
// OpenTelemetry specification says, usually port 4318) or "grpc" (usually
// port 4317). serviceName and version become the resource's service.name
// and service.version; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
// override them. Sampling follows OTEL_TRACES_SAMPLER (default: parent
// based, always on).
//
// Setup does not connect: an unreachable collector shows as export errors
// later, reported to otel's global error handler. shutdown flushes the
// spans still buffered and stops the exporter; it gives up when its
// context ends, or after DefaultShutdownTimeout when the context has no
// deadline.
func Setup(ctx context.Context, serviceName, version string) (shutdown func(context.Context) error, enabled bool, err error) {
	noop := func(context.Context) error { return nil }
	if !configured() {
		return noop, false, nil
	}
	exp, err := newExporter(ctx)
	if err != nil {
		return noop, false, err
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(
			attribute.String("service.name", serviceName),
			attribute.String("service.version", version),
		),
		resource.WithFromEnv(), // after WithAttributes: the environment wins
	)
	if err != nil {
		return noop, false, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	shutdown = func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, DefaultShutdownTimeout)
			defer cancel()
		}
		return tp.Shutdown(ctx)
	}
	return shutdown, true, nil
}

// configured reports whether the environment asks for OTLP traces.
func configured() bool {
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// newExporter creates the OTLP exporter of the configured protocol. The
// exporters read the endpoint, headers, TLS and timeout settings from the
// environment themselves.
func newExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	p := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if p == "" {
		p = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch strings.TrimSpace(p) {
	case "", "http/protobuf":
		return otlptracehttp.New(ctx)
	case "grpc":
		return otlptracegrpc.New(ctx)
	}
	return nil, fmt.Errorf("tracing: OTLP protocol %q is not supported (want http/protobuf or grpc)", p)
}

// ServerOption returns the gRPC server option that traces every call
// except the health checks (grpc.health.v1.Health), continuing the trace
// of the caller's traceparent metadata. The spans name the method and
// carry the status code; they never record metadata, so never the token.
func ServerOption() grpc.ServerOption {
	return grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithFilter(filters.Not(filters.HealthCheck())),
	))
}

// Transport wraps rt (http.DefaultTransport when nil) for the validator's
// calls to Hanko (give it to hankoauth.Config.HTTPClient): each request
// is a client span named "hanko GET /.well-known/jwks.json" or "hanko
// POST /sessions/validate" ("hanko" and the method for anything else),
// a child of the span in the request's context, and carries a
// traceparent header. The validator passes its caller's context values
// on, so the call to Hanko joins the trace of the request being checked;
// JWKS fetches run in the background and start their own traces.
//
// The span records the method, the URL (without user info; the
// validator's URLs carry no query), the server address and port, the
// status code and the transport's error, and no header and no body. The session token travels only in the body of POST
// /sessions/validate, so it never reaches a span.
func Transport(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return otelhttp.NewTransport(rt, otelhttp.WithSpanNameFormatter(spanName))
}

// hankoRoutes are the routes of Hanko's API the validator calls, by
// their path suffix (the API URL may have a path prefix).
var hankoRoutes = []string{"/.well-known/jwks.json", "/sessions/validate"}

func spanName(_ string, r *http.Request) string {
	for _, route := range hankoRoutes {
		if strings.HasSuffix(r.URL.Path, route) {
			return "hanko " + r.Method + " " + route
		}
	}
	return "hanko " + r.Method
}

// TraceID returns the trace id of the span in ctx, as 32 hex digits for
// log lines, or "" when ctx carries no span context.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}
