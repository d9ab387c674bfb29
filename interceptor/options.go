package interceptor

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/hankoauth/hankoauth"
)

// DefaultStreamRecheck is how often, by default, a stream's session is
// validated again while the stream lasts (hybrid and remote mode).
const DefaultStreamRecheck = 30 * time.Second

// Option configures the interceptors and AuthFunc.
type Option func(*options)

// options is the configuration, fixed when an interceptor is built.
type options struct {
	public       publicMethods
	requirement  hankoauth.Requirement
	logger       *slog.Logger
	cookieName   string
	tokenHeader  string
	decisionHook func(ctx context.Context, d hankoauth.Decision)
	streamExpiry bool
	recheck      time.Duration
}

func newOptions(opts []Option) *options {
	o := &options{streamExpiry: true, recheck: DefaultStreamRecheck}
	for _, opt := range opts {
		opt(o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	return o
}

// extractor is the token extractor the options describe.
func (o *options) extractor() hankoauth.Extractor {
	x := hankoauth.Extractor{
		CookieName:    o.cookieName,
		CookieHeaders: []string{"cookie", "grpcgateway-cookie"},
	}
	if o.tokenHeader != "" {
		x.TokenHeaders = []string{o.tokenHeader}
	}
	return x
}

// WithPublicMethods lets the named methods through without any session
// token: they are not authenticated at all, get no session in their
// context, and a token they carry is neither checked nor rejected.
//
// Each entry is either a full method name, "/pkg.Service/Method", or a
// whole service, "/pkg.Service/" or "pkg.Service". A method name without
// its leading slash ("pkg.Service/Method") is accepted too. Names are
// matched exactly (case-sensitive, no wildcards). An empty entry, or one
// with an empty service or more than one "/" between service and method,
// is a programming error: building the interceptor panics.
//
// The option adds to earlier calls. To skip whole groups of methods by
// another rule, compose with go-grpc-middleware's selector instead.
func WithPublicMethods(fullMethodsOrServices ...string) Option {
	return func(o *options) {
		for _, m := range fullMethodsOrServices {
			if err := o.public.add(m); err != nil {
				panic(err)
			}
		}
	}
}

// WithRequirement applies r to every authenticated session: an error from
// r denies the call with PermissionDenied. Its text goes to the log only.
// Combine several with hankoauth.RequireAll. Later calls replace earlier
// ones.
func WithRequirement(r hankoauth.Requirement) Option {
	return func(o *options) { o.requirement = r }
}

// WithLogger sets the logger of rejections (method, reason code, gRPC code
// and the validator's error, never the token). Default slog.Default().
// Missing tokens are logged at Debug, rejected sessions and denials at
// Info, an unreachable Hanko at Warn.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithCookieName sets the name of Hanko's session cookie, as configured in
// Hanko's session.cookie.name. Default "hanko".
func WithCookieName(name string) Option {
	return func(o *options) { o.cookieName = name }
}

// WithTokenHeader adds a metadata key (for example "x-session-token")
// whose value is a bare token, without a scheme. It is checked after
// authorization and before the cookies; a request whose sources carry
// different tokens is rejected as ambiguous. Naming "authorization" or a
// cookie header is a programming error: building the interceptor panics.
func WithTokenHeader(name string) Option {
	return func(o *options) {
		name = strings.ToLower(strings.TrimSpace(name))
		switch name {
		case "authorization", "cookie", "grpcgateway-cookie":
			panic("interceptor: WithTokenHeader(" + name + "): that header is read already; name an extra header")
		}
		o.tokenHeader = name
	}
}

// WithDecisionHook calls h once for every call that reaches the
// interceptor (Edge "interceptor", Target the full method name), and once
// more when the session of a stream ends while the stream is open. It runs
// on the request path: keep it fast (count a metric).
func WithDecisionHook(h func(ctx context.Context, d hankoauth.Decision)) Option {
	return func(o *options) { o.decisionHook = h }
}

// WithStreamExpiry turns the watching of long-lived streams on (the
// default) or off. When on, the context of a stream is cancelled when its
// session expires or a re-check finds it invalid, and the stream ends with
// Unauthenticated. See the package documentation.
func WithStreamExpiry(on bool) Option {
	return func(o *options) { o.streamExpiry = on }
}

// WithStreamRecheck sets how often the session of an open stream is
// validated again, in hybrid and remote mode, to notice revocation.
// Default DefaultStreamRecheck (30 s); 0 turns re-checks off (expiry is
// still watched). A negative interval counts as 0. In local mode there is
// nothing to re-check: the validator cannot see revocation.
func WithStreamRecheck(interval time.Duration) Option {
	return func(o *options) { o.recheck = max(interval, 0) }
}
