// Package interceptor enforces Hanko session tokens in gRPC servers and
// forwards them from gRPC clients.
//
// # Usage
//
// Build one hankoauth.Validator and install the pair of interceptors:
//
//	v, err := hankoauth.New(hankoauth.Config{APIURL: "https://auth.example.com"})
//	...
//	srv := grpc.NewServer(
//		grpc.UnaryInterceptor(interceptor.UnaryServerInterceptor(v, interceptor.WithPublicMethods("grpc.health.v1.Health"))),
//		grpc.StreamInterceptor(interceptor.StreamServerInterceptor(v)),
//	)
//
// Handlers read the session with hankoauth.FromContext. With
// go-grpc-middleware v2, AuthFunc plugs into its auth interceptors, and its
// selector decides which methods are checked at all (for example, not the
// health service).
//
// Public methods (WithPublicMethods) skip authentication entirely: no
// token is read or checked, and the handler's context carries no session.
// A method that serves both anonymous and signed-in callers should not be
// public; check it in the handler instead.
//
// # Status contract
//
// Every rejection has a fixed message, never the token or an error's text,
// and a google.rpc.ErrorInfo detail with domain "hanko" and a
// hankoauth.Reason as its reason. The error behind it goes to the log
// (WithLogger) with the method and the reason code, and the decision to
// WithDecisionHook. StatusFromError is the one mapping:
//
//	case                                   code              message                                   ErrorInfo reason
//	no token                               Unauthenticated   missing session token                     TOKEN_MISSING
//	token expired                          Unauthenticated   session expired                           SESSION_EXPIRED
//	session revoked (hybrid, remote)       Unauthenticated   invalid session                           SESSION_REVOKED (SESSION_REJECTED in remote mode)
//	other invalid token                    Unauthenticated   invalid session                           TOKEN_AMBIGUOUS, TOKEN_MALFORMED, SIGNATURE_INVALID, ...
//	requirement not met                    PermissionDenied  permission denied                         PERMISSION_DENIED
//	Hanko or its JWKS unreachable          Unavailable       authentication temporarily unavailable    HANKO_UNAVAILABLE
//	the caller cancelled / ran out of time Canceled / DeadlineExceeded (no detail)
//
// Clients should refresh the session on Unauthenticated, and retry later
// on Unavailable.
//
// # Token sources
//
// The token is read from the incoming metadata by hankoauth.Extractor:
// "authorization: Bearer <token>"; the header named by WithTokenHeader,
// holding a bare token; then Hanko's cookie (named "hanko" unless
// WithCookieName says otherwise) in "cookie" and in "grpcgateway-cookie",
// which grpc-gateway forwards. A call whose sources carry different tokens
// is rejected as ambiguous; an authorization header of another scheme
// alone is malformed.
//
// # Streams
//
// StreamServerInterceptor authenticates a stream when it opens. By default
// it then watches the session while the stream lasts: the stream's
// context is cancelled when the session expires (at its ExpiresAt, or its
// IdleExpiresAt if Hanko reported an earlier one), and in hybrid and
// remote mode the token is validated again every WithStreamRecheck
// interval (30 s by default) so that a revoked session is noticed; the
// validator's cache keeps this cheap, and its RevalidateAfter decides when
// Hanko is asked. A re-check that cannot reach Hanko keeps the stream.
// Once the session has ended, SendMsg and RecvMsg of the stream fail and
// the stream ends with Unauthenticated and the reason SESSION_EXPIRED or
// SESSION_REVOKED, even when the handler returns its context's error.
// A handler blocked in RecvMsg is only woken by its client, so long-lived
// handlers should also select on their stream's context. The watcher
// stops when the handler returns; WithStreamExpiry(false) turns it off.
// AuthFunc does not watch streams.
//
// # Client side
//
// NewPerRPCCredentials sends a token as a bearer token over TLS;
// NewInsecurePerRPCCredentials also over plaintext, for the hop to a mesh
// sidecar. UnaryClientInterceptor and StreamClientInterceptor forward the
// token of the server call in progress to the calls a handler makes with
// its context: the server interceptors keep the validated token in the
// context, where TokenFromContext (and these client interceptors) find it.
package interceptor
