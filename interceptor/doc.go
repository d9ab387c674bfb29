// Package interceptor enforces Hanko session tokens in gRPC servers and
// forwards them from gRPC clients.
//
// # Usage
//
// Build one hankoauth.Validator, configure one Interceptor with New, and
// install both of its interceptors: every option applies to unary and
// streaming calls alike, so a public method or a requirement cannot be
// forgotten on one kind of call.
//
//	v, err := hankoauth.New(hankoauth.Config{APIURL: "https://auth.example.com"})
//	...
//	authn, err := interceptor.New(v,
//		interceptor.WithPublicMethods("grpc.health.v1.Health"),
//		interceptor.WithRequirement(hankoauth.RequireVerifiedEmail()))
//	...
//	srv := grpc.NewServer(
//		grpc.UnaryInterceptor(authn.Unary()),
//		grpc.StreamInterceptor(authn.Stream()),
//	)
//
// An invalid option is an error of New, never a panic. Handlers read the
// session with hankoauth.FromContext. With go-grpc-middleware v2,
// Interceptor.AuthFunc plugs into its auth interceptors, and its selector
// decides which methods are checked at all (for example, not the health
// service).
//
// Public methods (WithPublicMethods) skip authentication entirely: no
// token is read or checked, and the handler's context carries no session.
// A method that serves both anonymous and signed-in callers should not be
// public; check it in the handler instead.
//
// # Status contract
//
// Every rejection has a fixed message, never the token or an error's text,
// and a google.rpc.ErrorInfo detail with domain "hanko"
// (hankoauth.ErrorInfoDomain) and a hankoauth.Reason as its reason. The
// error behind it goes to the log (WithLogger; nothing is logged without
// it) with the method and the reason code, and the decision to
// WithDecisionHook. StatusFromError is the one mapping, derived from
// hankoauth's reason table (hankoauth.Reason.Info):
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
// Interceptor.Stream authenticates a stream when it opens. By default
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
// A handler that watches its session itself, to send a last message
// before the stream ends, takes the end over with OwnStreamEnd (as
// hankoauth.v1.SessionService/WatchSession does). AuthFunc does not watch
// streams.
//
// # Client side
//
// NewPerRPCCredentials sends a token as a bearer token over TLS;
// NewInsecurePerRPCCredentials also over plaintext, for the hop to a mesh
// sidecar. A Forwarder (NewForwarder, with client options of its own)
// forwards the token of the server call in progress to the calls a
// handler makes with its context: the server interceptors keep the
// validated token in the context, where TokenFromContext (and the
// Forwarder's interceptors) find it.
package interceptor
