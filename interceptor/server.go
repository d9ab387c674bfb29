package interceptor

import (
	"context"
	"errors"
	"log/slog"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/hankoauth/hankoauth"
)

// edge is the Edge of the decisions this package reports.
const edge = "interceptor"

// UnaryServerInterceptor authenticates every unary call with v: the
// session lands in the handler's context (hankoauth.FromContext), a call
// without a live session is rejected with the status StatusFromError
// gives. It panics if v is nil.
func UnaryServerInterceptor(v *hankoauth.Validator, opts ...Option) grpc.UnaryServerInterceptor {
	a := newAuthenticator(v, opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, _, _, err := a.authenticate(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor authenticates every stream with v, like
// UnaryServerInterceptor; the handler gets a stream whose Context carries
// the session. Unless WithStreamExpiry(false) is given, the stream's
// context is cancelled when its session ends (see the package
// documentation), and the stream then fails with Unauthenticated.
func StreamServerInterceptor(v *hankoauth.Validator, opts ...Option) grpc.StreamServerInterceptor {
	a := newAuthenticator(v, opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, s, token, err := a.authenticate(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		switch {
		case s == nil: // a public method
			return handler(srv, ss)
		case !a.opts.streamExpiry:
			return handler(srv, &serverStream{ServerStream: ss, ctx: ctx})
		}
		return a.watchStream(ctx, s, token, info.FullMethod, func(ctx context.Context) error {
			return handler(srv, &serverStream{ServerStream: ss, ctx: ctx, watched: true})
		})
	}
}

// AuthFunc returns the authentication of the interceptors as an
// auth.AuthFunc of go-grpc-middleware v2, to be used with its auth
// interceptors and composed with its selector:
//
//	auth.UnaryServerInterceptor(interceptor.AuthFunc(v))
//
// It finds the method name with grpc.Method, so WithPublicMethods works as
// in the interceptors. It does not watch streams (go-grpc-middleware's
// auth interceptor offers no place to stop a watcher):
// WithStreamExpiry and WithStreamRecheck have no effect; use
// StreamServerInterceptor for long-lived streams.
func AuthFunc(v *hankoauth.Validator, opts ...Option) auth.AuthFunc {
	a := newAuthenticator(v, opts)
	return func(ctx context.Context) (context.Context, error) {
		method, _ := grpc.Method(ctx)
		ctx, _, _, err := a.authenticate(ctx, method)
		return ctx, err
	}
}

// authenticator holds what one interceptor needs, fixed at construction.
type authenticator struct {
	v    *hankoauth.Validator
	x    hankoauth.Extractor
	opts *options
}

func newAuthenticator(v *hankoauth.Validator, opts []Option) *authenticator {
	if v == nil {
		panic("interceptor: nil *hankoauth.Validator")
	}
	o := newOptions(opts)
	return &authenticator{v: v, x: o.extractor(), opts: o}
}

// authenticate checks the call to method: it returns the context for the
// handler, with the session and its token, or the status error to answer.
// A public method returns ctx as it is and a nil session.
func (a *authenticator) authenticate(ctx context.Context, method string) (context.Context, *hankoauth.Session, string, error) {
	if a.opts.public.match(method) {
		a.decide(ctx, method, nil, true)
		return ctx, nil, "", nil
	}
	// ValueFromIncomingContext copies only the values asked for, where
	// FromIncomingContext would copy the whole metadata on every call.
	token, err := a.x.Extract(func(name string) []string { return metadata.ValueFromIncomingContext(ctx, name) })
	var s *hankoauth.Session
	if err == nil {
		s, err = a.v.Validate(ctx, token)
	}
	if err == nil && a.opts.requirement != nil {
		if rerr := a.opts.requirement(ctx, s); rerr != nil {
			err = forbidden(rerr)
		}
	}
	if err != nil {
		return ctx, nil, "", a.reject(ctx, method, err)
	}
	a.decide(ctx, method, nil, false)
	ctx = hankoauth.NewContext(ctx, s)
	return &tokenContext{Context: ctx, token: token}, s, token, nil
}

// reject logs err, reports the decision and returns the status error for
// the client. A caller that gave up gets Canceled or DeadlineExceeded,
// whatever the validator made of it.
func (a *authenticator) reject(ctx context.Context, method string, err error) error {
	var st *status.Status
	if cerr := ctx.Err(); cerr != nil {
		st = contextStatus(contextCode(cerr))
	} else {
		st = StatusFromError(err)
	}
	a.decide(ctx, method, err, false)
	a.log(ctx, method, st, err)
	return st.Err()
}

// log records a rejection: method, reason, code and the error (whose text
// never carries the token).
func (a *authenticator) log(ctx context.Context, method string, st *status.Status, err error) {
	level := slog.LevelInfo
	switch {
	case errors.Is(err, hankoauth.ErrNoToken):
		level = slog.LevelDebug
	case errors.Is(err, hankoauth.ErrInvalidToken), errors.Is(err, hankoauth.ErrForbidden):
	case ctx.Err() != nil:
		level = slog.LevelDebug
	default:
		level = slog.LevelWarn
	}
	l := a.opts.logger
	if !l.Enabled(ctx, level) {
		return
	}
	l.LogAttrs(ctx, level, "hankoauth: rpc rejected",
		slog.String("method", method),
		slog.String("reason", string(reasonOf(err))),
		slog.String("code", st.Code().String()),
		slog.String("error", err.Error()))
}

// decide reports a decision to the hook, if any.
func (a *authenticator) decide(ctx context.Context, method string, err error, public bool) {
	if h := a.opts.decisionHook; h != nil {
		h(ctx, hankoauth.Decision{
			Edge:   edge,
			Result: hankoauth.DecisionResult(err),
			Reason: reasonOf(err),
			Target: method,
			Public: public,
		})
	}
}

// reasonOf is hankoauth.ReasonOf, with ReasonForbidden for a requirement's
// denial.
func reasonOf(err error) hankoauth.Reason {
	if errors.Is(err, hankoauth.ErrForbidden) {
		return hankoauth.ReasonForbidden
	}
	return hankoauth.ReasonOf(err)
}

// forbidden makes any error of a Requirement match hankoauth.ErrForbidden,
// as Requirement's contract says every error denies.
func forbidden(err error) error {
	if errors.Is(err, hankoauth.ErrForbidden) {
		return err
	}
	return &forbiddenError{err}
}

type forbiddenError struct{ err error }

func (e *forbiddenError) Error() string   { return hankoauth.ErrForbidden.Error() + ": " + e.err.Error() }
func (e *forbiddenError) Unwrap() []error { return []error{hankoauth.ErrForbidden, e.err} }

// tokenKey is the context key of the raw session token that the server
// interceptors validated, for the client interceptors to forward and for
// handlers that re-check the session (TokenFromContext).
type tokenKey struct{}

// tokenContext carries the validated token under tokenKey. It is
// context.WithValue without boxing the string: one allocation, not two.
type tokenContext struct {
	context.Context
	token string
}

func (c *tokenContext) Value(key any) any {
	if _, ok := key.(tokenKey); ok {
		return c
	}
	return c.Context.Value(key)
}

// TokenFromContext returns the session token that the server interceptors
// validated for this call, for a handler that must check the session again
// later (a long stream) or forward it. Treat it as a secret: never log it.
func TokenFromContext(ctx context.Context) (string, bool) {
	if c, ok := ctx.Value(tokenKey{}).(*tokenContext); ok && c.token != "" {
		return c.token, true
	}
	return "", false
}
