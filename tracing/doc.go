// Package tracing sets up OpenTelemetry tracing for hankoauth: an OTLP
// exporter configured by the environment, spans for the gRPC server's
// calls, and client spans for the validator's calls to Hanko.
//
// # Usage
//
//	shutdown, enabled, err := tracing.Setup(ctx, "hanko-authz", version)
//	if err != nil { ... }
//	defer shutdown(context.Background())
//	v, err := hankoauth.New(hankoauth.Config{
//		APIURL:     apiURL,
//		HTTPClient: hankoauth.NewHTTPClient(hankoauth.DefaultRequestTimeout, tracing.Transport),
//	})
//	srv := grpc.NewServer(tracing.ServerOption(), ...)
//	logger.Info("...", "trace_id", tracing.TraceID(ctx))
//
// With no OTLP endpoint in the environment Setup installs nothing, and
// ServerOption and Transport cost little: their spans are the global no-op
// provider's.
//
// # Configuration
//
// Setup reads the standard variables: OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (tracing is on when either is set),
// OTEL_EXPORTER_OTLP_PROTOCOL or OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
// ("http/protobuf" by default, or "grpc"), OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_EXPORTER_OTLP_INSECURE, OTEL_EXPORTER_OTLP_TIMEOUT and the
// certificate variables (read by the exporters), OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG,
// OTEL_BSP_* for batching, and OTEL_SDK_DISABLED=true to turn it all off.
//
// # Spans
//
//   - Server spans from ServerOption, one per gRPC call (the Envoy
//     ext_authz Check included), named after the full method, except for
//     grpc.health.v1.Health.
//   - Client spans from Transport: "hanko POST /sessions/validate", a child
//     of the request being checked, and "hanko GET /.well-known/jwks.json",
//     the root of its own trace because the validator fetches keys in the
//     background for all callers.
//
// # What spans never carry
//
// No span records a header, gRPC metadata or a body: the session token,
// which arrives in the authorization header or a cookie and goes to Hanko
// only in a request body, never reaches a span attribute. The validator
// sends Hanko no credentials in headers either. The client spans record
// the URL of Hanko's API, which carries no query. The spans do not name the
// user; handlers that want the user id on a span add it themselves,
// knowingly.
package tracing
