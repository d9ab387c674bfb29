package interceptor

import (
	"context"
	"errors"
	"log/slog"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/hankoauth/hankoauth"
)

// edge is the Edge of the decisions this package reports.
const edge = "interceptor"

// Interceptor authenticates gRPC calls with a validator. It is
// configured once, by New, and hands out the unary and the stream server
// interceptor (and an auth.AuthFunc) of that one configuration, so that
// public methods, requirements and logging are the same for every kind of
// call. It is safe for concurrent use.
type Interceptor struct {
	v    *hankoauth.Validator
	x    hankoauth.Extractor
	opts *options
}

// New returns the Interceptor for v configured by opts. It fails when v
// is nil or an option is invalid (a malformed public method, a token
// header that is read already, a nil requirement, a negative re-check
// interval).
func New(v *hankoauth.Validator, opts ...Option) (*Interceptor, error) {
	if v == nil {
		return nil, errors.New("interceptor: nil *hankoauth.Validator")
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	return &Interceptor{v: v, x: o.extractor(), opts: o}, nil
}

// Unary returns the unary server interceptor: the session lands in the
// handler's context (hankoauth.FromContext, and its token in
// TokenFromContext), a call without a live session is rejected with the
// status StatusFromError gives.
func (a *Interceptor) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, _, _, err := a.authenticate(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// Stream returns the stream server interceptor. It authenticates a stream
// when it opens, like Unary; the handler gets a stream whose Context
// carries the session. Unless WithStreamExpiry(false) is given, the
// stream's context is cancelled when its session ends (see the package
// documentation), and the stream then fails with Unauthenticated; a
// handler that watches its session itself takes that over with
// OwnStreamEnd.
func (a *Interceptor) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, s, token, err := a.authenticate(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		switch {
		case s == nil: // a public method
			return handler(srv, ss)
		case !a.opts.streamExpiry:
			w := middleware.WrapServerStream(ss)
			w.WrappedContext = ctx
			return handler(srv, w)
		}
		return a.watchStream(ctx, s, token, info.FullMethod, func(ctx context.Context) error {
			w := middleware.WrapServerStream(ss)
			w.WrappedContext = ctx
			return handler(srv, watchedStream{w})
		})
	}
}

// AuthFunc returns the authentication of the interceptor as an
// auth.AuthFunc of go-grpc-middleware v2, to be used with its auth
// interceptors and composed with its selector:
//
//	auth.UnaryServerInterceptor(i.AuthFunc())
//
// It finds the method name with grpc.Method, so WithPublicMethods works as
// in Unary and Stream, and so do all other options but two: it does not
// watch streams (go-grpc-middleware's auth interceptor offers no place to
// stop a watcher), so WithStreamExpiry and WithStreamRecheck have no
// effect; use Stream for long-lived streams.
func (a *Interceptor) AuthFunc() auth.AuthFunc {
	return func(ctx context.Context) (context.Context, error) {
		method, _ := grpc.Method(ctx)
		ctx, _, _, err := a.authenticate(ctx, method)
		return ctx, err
	}
}

// authenticate checks the call to method: it returns the context for the
// handler, with the session and its token, or the status error to answer.
// A public method returns ctx as it is and a nil session.
func (a *Interceptor) authenticate(ctx context.Context, method string) (context.Context, *hankoauth.Session, string, error) {
	if a.opts.public.match(method) {
		a.decide(ctx, method, hankoauth.ReasonOK, true)
		return ctx, nil, "", nil
	}
	// ValueFromIncomingContext copies only the values asked for, where
	// FromIncomingContext would copy the whole metadata on every call.
	token, err := a.x.Extract(func(name string) []string { return metadata.ValueFromIncomingContext(ctx, name) })
	var s *hankoauth.Session
	if err == nil {
		s, err = a.v.Validate(ctx, token)
	}
	if err == nil {
		err = a.opts.requirement.Check(ctx, s)
	}
	if err == nil {
		err = a.opts.methodReqs.check(ctx, method, s)
	}
	if err != nil {
		return ctx, nil, "", a.reject(ctx, method, err)
	}
	a.decide(ctx, method, hankoauth.ReasonOK, false)
	ctx = hankoauth.NewContext(ctx, s)
	return &tokenContext{Context: ctx, token: token}, s, token, nil
}

// reject logs err, reports the decision and returns the status error for
// the client. A caller that gave up gets Canceled or DeadlineExceeded and
// the reason REQUEST_CANCELED, whatever the validator made of it.
func (a *Interceptor) reject(ctx context.Context, method string, err error) error {
	st, r := StatusFromError(err), hankoauth.ReasonOf(err)
	if cerr := ctx.Err(); cerr != nil {
		st, r = contextStatus(contextCode(cerr)), hankoauth.ReasonCanceled
	}
	a.decide(ctx, method, r, false)
	a.log(ctx, method, st, r, err)
	return st.Err()
}

// log records a rejection for reason r: method, reason, code and the error
// (whose text never carries the token).
func (a *Interceptor) log(ctx context.Context, method string, st *status.Status, r hankoauth.Reason, err error) {
	level := slog.LevelInfo
	switch r.Info().Class {
	case hankoauth.ClassNoToken, hankoauth.ClassCanceled:
		level = slog.LevelDebug
	case hankoauth.ClassUnavailable:
		level = slog.LevelWarn
	}
	l := a.opts.logger
	if !l.Enabled(ctx, level) {
		return
	}
	l.LogAttrs(ctx, level, "hankoauth: rpc rejected",
		slog.String("method", method),
		slog.String("reason", string(r)),
		slog.String("code", st.Code().String()),
		slog.String("error", err.Error()))
}

// decide reports a decision to the hook, if any.
func (a *Interceptor) decide(ctx context.Context, method string, r hankoauth.Reason, public bool) {
	h := a.opts.decisionHook
	if h == nil {
		return
	}
	h(ctx, hankoauth.NewDecision(edge, r, method, public))
}

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
