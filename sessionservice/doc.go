// Package sessionservice implements hankoauth.v1.SessionService, the gRPC
// API that tells callers about Hanko sessions: WhoAmI, ValidateSession and
// WatchSession (see proto/hankoauth/v1/session.proto for the contract).
//
// # Usage
//
// The service reads the caller's session from the context, where the
// interceptors of package interceptor put it. Install them with the same
// validator and register the service:
//
//	v, err := hankoauth.New(hankoauth.Config{APIURL: hankoURL})
//	...
//	authn, err := interceptor.New(v)
//	...
//	srv := grpc.NewServer(
//		grpc.UnaryInterceptor(authn.Unary()),
//		grpc.StreamInterceptor(authn.Stream()),
//	)
//	sessionservice.New(v).Register(srv)
//
// WatchSession re-checks the token the interceptors validated
// (interceptor.TokenFromContext). Behind another authenticator it reads the
// token from the metadata instead: then give the service the cookie name
// and token header (WithCookieName, WithTokenHeader) when they are not the
// defaults.
//
// # Authorisation
//
// None of the three RPCs is public. WhoAmI and WatchSession are about the
// caller's own session and answer Unauthenticated without one.
// ValidateSession answers "is this token valid, and whose is it" for any
// token, so by default the caller needs a live session of its own as well.
// To let backend services without a Hanko session call it, make
// "/hankoauth.v1.SessionService/ValidateSession" public in the
// interceptors (interceptor.WithPublicMethods) and restrict it by other
// means: network policy, or mTLS with an allow-list of client identities.
//
// # Watching
//
// WatchSession sends an update at once and then one per interval (10 s by
// default, clamped to [1 s, 5 min]; see WithWatchInterval), each after
// validating the caller's token again; the validator's cache decides when
// Hanko is asked, so a revocation shows within its RevalidateAfter. At the
// session's expiry (or its idle expiry, when Hanko reported one), or when
// the token stops validating, it sends a final update with the state
// EXPIRED, REVOKED or REJECTED and ends the stream with Unauthenticated.
// When Hanko cannot be reached it ends the stream with Unavailable.
//
// WatchSession owns the end of its stream: it tells the interceptor's own
// stream watcher to stand down (interceptor.OwnStreamEnd), so the final
// update always arrives before the stream ends. Expiry is judged on the
// validator's clock (hankoauth.Config.Now), as everywhere else.
package sessionservice
