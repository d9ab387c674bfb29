// Package metrics exports hankoauth's Prometheus metrics: the validator's
// cache, its calls to Hanko and its JWKS, the edges' decisions, and the
// gRPC server's own RPC metrics.
//
// # Usage
//
// Create one Metrics on a registry, give its hooks and its instrumented
// transport to the validator, and its decision hook to the edges:
//
//	reg := prometheus.NewRegistry()
//	m, err := metrics.New(reg)
//	...
//	v, err := hankoauth.New(hankoauth.Config{
//		APIURL:     apiURL,
//		Hooks:      m.Hooks(),
//		HTTPClient: hankoauth.NewHTTPClient(hankoauth.DefaultRequestTimeout, m.InstrumentTransport),
//	})
//	...
//	m.ObserveValidator(v)
//	authn, err := interceptor.New(v, interceptor.WithDecisionHook(m.Decision))
//	...
//	gm := m.GRPCServerMetrics()
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(gm.UnaryServerInterceptor(), authn.Unary()),
//		grpc.ChainStreamInterceptor(gm.StreamServerInterceptor(), authn.Stream()),
//	)
//	// register services, then:
//	gm.InitializeMetrics(srv)
//	http.Handle("/metrics", metrics.Handler(reg))
//
// New registers no Go or process collectors; add
// collectors.NewGoCollector and collectors.NewProcessCollector to the
// registry for those.
//
// # Metrics
//
// Counters:
//
//   - hankoauth_decisions_total{edge,result,reason}: requests decided by an
//     edge. edge is interceptor, extauthz or http. result is allow (a live
//     session), public (a target that needs no session: health,
//     reflection, public methods and paths; reason OK), deny, error (Hanko
//     could not be asked; reason HANKO_UNAVAILABLE) or canceled (the
//     caller gave up first, such as Envoy's ext_authz timeout; reason
//     REQUEST_CANCELED). reason is a hankoauth.Reason code; the result of
//     each reason is its class's (hankoauth.Reason.Info), one table for
//     every edge. The known combinations are exported as 0 from the start.
//   - hankoauth_cache_hits_total, hankoauth_cache_misses_total: validations
//     the token cache answered, and could not answer.
//   - hankoauth_cache_evictions_total: entries dropped to make room (a
//     steady rate means the cache is too small).
//   - hankoauth_hanko_requests_total{outcome}: calls to Hanko's POST
//     /sessions/validate; outcome is valid, invalid, bad_request or error.
//   - hankoauth_jwks_refreshes_total{outcome}: JWKS fetches; outcome is ok
//     or error.
//
// Histograms:
//
//   - hankoauth_validation_duration_seconds{path}: one observation per
//     Validate call, by the way it was decided: cached, local, remote or
//     none (no token, or too long). Buckets from 1 µs to 5 s.
//   - hankoauth_hanko_request_duration_seconds: latency of POST
//     /sessions/validate. Buckets from 1 ms to 5 s.
//
// Gauges:
//
//   - hankoauth_hanko_requests_in_flight: HTTP requests to Hanko (JWKS and
//     validate) under way; counted only through InstrumentTransport.
//   - hankoauth_cache_entries, hankoauth_revoked_sessions: tokens in the
//     cache, and sessions revoked through Validator.RevokeSession that are
//     remembered. From ObserveValidator.
//   - hankoauth_jwks_keys, hankoauth_jwks_age_seconds: usable keys in the
//     current JWKS and the seconds since it was fetched. From
//     ObserveValidator; absent in remote mode, and the age until a JWKS
//     has been loaded.
//   - hankoauth_build_info{version,goversion}: always 1.
//
// From go-grpc-middleware's prometheus provider (GRPCServerMetrics):
// grpc_server_started_total, grpc_server_handled_total (with grpc_code),
// grpc_server_msg_received_total, grpc_server_msg_sent_total and
// grpc_server_handling_seconds, labelled by grpc_type, grpc_service and
// grpc_method. Those labels are bounded by the services the server
// registers: gRPC answers Unimplemented for other methods before any
// interceptor runs.
//
// # Labels
//
// Every hankoauth_ label has a small fixed set of values: a label never
// carries a token, a user or session id, a path, a method name or a header
// value. The Target of a Decision is never a label. A value outside its
// known set is counted as "other" (edge, result, outcome, path) or "OTHER"
// (reason), so a new reason code in a later version shows up as OTHER
// until this package learns it.
//
// # Cost
//
// The hooks run on the validating goroutine. Every label combination they
// and Decision use is resolved once in New, so a cache lookup costs one
// atomic add and a validation one histogram observation, and neither the
// hooks nor Decision (for known label values) allocate.
package metrics
