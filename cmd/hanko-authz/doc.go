// Hanko-authz enforces Hanko session tokens for gRPC services and for
// Envoy and Istio, as one small server.
//
// Usage:
//
//	hanko-authz <command> [flags]
//
// # Commands
//
//   - serve: the server. On --grpc-addr (default :9001) it serves
//     hankoauth.v1.SessionService behind the session interceptors,
//     grpc.health.v1.Health (SERVING once Hanko's keys are loaded), server
//     reflection, and Envoy's envoy.service.auth.v3.Authorization
//     (ext_authz). On --http-addr (default :9002) it serves /healthz,
//     /readyz, Prometheus metrics on /metrics and the HTTP ext_authz
//     handler under /authz/. --hanko-url is required. It sends traces over
//     OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set. SIGINT or SIGTERM stop
//     it gracefully: readiness goes false, open streams end with
//     Unavailable, calls in flight get --shutdown-timeout to finish.
//   - dev: a fake Hanko on --hanko-addr (default 127.0.0.1:8000) and serve
//     against it on 127.0.0.1:9001 and 127.0.0.1:9002. It mints a session
//     for a demo user and prints "export TOKEN=..." and ready-to-paste
//     grpcurl and curl commands. For a laptop, never for production.
//   - validate [TOKEN]: validates one token (the argument, or stdin) and
//     prints its session as JSON. Exit status 0 valid, 1 rejected (the
//     reason code on stderr), 2 a usage error, 3 Hanko could not be asked
//     (a refused connection fails at once, naming the cause; a Hanko that
//     does not answer, after --timeout).
//   - doctor: checks a deployment against a Hanko (--hanko-url) and, with
//     a token (--token or stdin), the token: DNS, TCP, TLS, the URL's path
//     prefix, the JWKS and its keys, clock skew, /sessions/validate and
//     its latency, the token's claims, verification and Hanko's verdict.
//     One line per check with a fix for each that did not pass (--output
//     text or json); never the token or its signature. Exit status 0 all
//     passed, 1 a check failed, 2 a usage error.
//   - version: the version and the Go version.
//   - help [command]: usage; "hanko-authz <command> -h" too.
//
// # Configuration
//
// Every flag can also be set in the environment: HANKO_API_URL for
// --hanko-url, and HANKO_AUTHZ_<FLAG> for the others, in upper case with
// dashes as underscores (--grpc-addr is HANKO_AUTHZ_GRPC_ADDR). A flag on
// the command line wins over its variable. List flags (--audience,
// --public-methods, --public-paths, --claim-header) take comma-separated
// values and may be repeated.
//
// The session interceptors guard every gRPC method except health,
// reflection and ext_authz's Check (which carries the end user's token
// inside its CheckRequest) and the methods named by --public-methods.
// SessionService's ValidateSession is not public by default: its callers
// need a session of their own.
//
// A bad flag, an invalid --hanko-url or an address in use is reported in
// one line on stderr; the exit status is 2 for usage errors and 1 for
// other failures (validate: 3 when Hanko could not be asked). Logs
// (log/slog, --log-format text or json) go to stderr and never contain a
// token; durations print as text ("10m0s") in both formats, and the
// per-request lines (denials) are limited to --denial-log-rate a second,
// with a count of the lines dropped.
// --pprof-addr serves Go's profiles (/debug/pprof/) on a loopback address
// of its own; it is off by default.
package main
