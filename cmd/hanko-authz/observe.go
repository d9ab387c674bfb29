package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"

	"github.com/hankoauth/hankoauth/metrics"
	"github.com/hankoauth/hankoauth/tracing"
)

// observability builds the hooks that metrics and tracing add to the
// server, the one place they are wired: Prometheus metrics on /metrics of
// --http-addr (validator hooks and state, an instrumented client for the
// calls to Hanko, the edges' decisions, the gRPC server's RPC metrics),
// and OpenTelemetry tracing when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: server spans for every gRPC
// call but health checks, client spans for the calls to Hanko.
func observability(ctx context.Context, log *slog.Logger) (hooks, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return hooks{}, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return hooks{}, err
	}
	m, err := metrics.New(reg, metrics.WithVersion(buildVersion()))
	if err != nil {
		return hooks{}, fmt.Errorf("metrics: %w", err)
	}
	shutdown, traced, err := tracing.Setup(ctx, "hanko-authz", buildVersion())
	if err != nil {
		return hooks{}, fmt.Errorf("tracing: %w", err)
	}
	if traced {
		log.Info("tracing to the OTLP endpoint of the environment")
	}
	gm := m.GRPCServerMetrics()
	h := hooks{
		Validator:          m.Hooks(),
		HankoTransport:     m.InstrumentTransport,
		ValidatorCreated:   m.ObserveValidator,
		Decision:           m.Decision,
		UnaryInterceptors:  []grpc.UnaryServerInterceptor{gm.UnaryServerInterceptor()},
		StreamInterceptors: []grpc.StreamServerInterceptor{gm.StreamServerInterceptor()},
		GRPCRegistered:     func(s *grpc.Server) { gm.InitializeMetrics(s) },
		HTTPRoutes:         func(mux *http.ServeMux) { mux.Handle("/metrics", metrics.Handler(reg)) },
		Shutdown:           shutdown,
		Webhook:            m.Webhook,
		StreamCreated:      m.ObserveStream,
	}
	// Tracing's wrappers only when tracing is on: with no exporter they
	// would record nothing, yet a gRPC stats handler alone costs every call
	// a copy of its metadata and a (no-op) span.
	if traced {
		h.HankoTransport = func(rt http.RoundTripper) http.RoundTripper { return tracing.Transport(m.InstrumentTransport(rt)) }
		h.GRPCOptions = []grpc.ServerOption{tracing.ServerOption()}
		h.WrapAuthz = func(h http.Handler) http.Handler { return tracing.HTTPHandler(h, "ext_authz") }
	}
	return h, nil
}
