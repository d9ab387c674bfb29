package interceptor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hankoauth/hankoauth"
)

// DefaultStreamRecheck is how often, by default, a stream's session is
// validated again while the stream lasts (hybrid and remote mode).
const DefaultStreamRecheck = 30 * time.Second

// Option configures an Interceptor. Every option applies to unary and
// streaming calls alike (and to AuthFunc); WithStreamExpiry and
// WithStreamRecheck concern streams only.
type Option func(*options)

// options is the configuration, fixed when New builds the Interceptor.
type options struct {
	public       publicMethods
	requirement  hankoauth.Requirement
	logger       *slog.Logger
	cookieName   string
	tokenHeader  string
	decisionHook func(ctx context.Context, d hankoauth.Decision)
	streamExpiry bool
	recheck      time.Duration
	errs         []error // invalid options, reported by New
}

func newOptions(opts []Option) (*options, error) {
	o := &options{streamExpiry: true, recheck: DefaultStreamRecheck}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return o, errors.Join(o.errs...)
}

// extractor is the token extractor the options describe.
func (o *options) extractor() hankoauth.Extractor {
	return newExtractor(o.cookieName, o.tokenHeader)
}

func newExtractor(cookieName, tokenHeader string) hankoauth.Extractor {
	x := hankoauth.Extractor{
		CookieName:    cookieName,
		CookieHeaders: []string{"cookie", "grpcgateway-cookie"},
	}
	if tokenHeader != "" {
		x.TokenHeaders = []string{tokenHeader}
	}
	return x
}

// WithPublicMethods lets the named methods through without any session
// token, unary or streaming: they are not authenticated at all, get no
// session in their context, and a token they carry is neither checked nor
// rejected.
//
// Each entry is either a full method name, "/pkg.Service/Method", or a
// whole service, "/pkg.Service/" or "pkg.Service". A method name without
// its leading slash ("pkg.Service/Method") is accepted too. Names are
// matched exactly (case-sensitive, no wildcards). An empty entry, or one
// with an empty service or more than one "/" between service and method,
// makes New fail.
//
// The option adds to earlier calls. To skip whole groups of methods by
// another rule, compose AuthFunc with go-grpc-middleware's selector.
func WithPublicMethods(fullMethodsOrServices ...string) Option {
	return func(o *options) {
		for _, m := range fullMethodsOrServices {
			if err := o.public.add(m); err != nil {
				o.errs = append(o.errs, err)
			}
		}
	}
}

// WithRequirement applies r to every authenticated session: an error from
// r denies the call with PermissionDenied. Its text goes to the log only.
// Several requirements compose: each given one must be met (as with
// hankoauth.RequireAll), here and in package extauthz alike. A nil r
// makes New fail.
func WithRequirement(r hankoauth.Requirement) Option {
	return func(o *options) {
		if r == nil {
			o.errs = append(o.errs, errors.New("interceptor: WithRequirement(nil)"))
			return
		}
		if o.requirement == nil {
			o.requirement = r
			return
		}
		o.requirement = hankoauth.RequireAll(o.requirement, r)
	}
}

// WithLogger sets the logger of rejections (method, reason code, gRPC code
// and the validator's error, never the token). Without it nothing is
// logged, as everywhere in hankoauth. Missing tokens are logged at Debug,
// rejected sessions and denials at Info, an unreachable Hanko at Warn.
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
// cookie header makes New fail.
func WithTokenHeader(name string) Option {
	return func(o *options) {
		h, err := tokenHeader(name)
		if err != nil {
			o.errs = append(o.errs, err)
			return
		}
		o.tokenHeader = h
	}
}

// tokenHeader checks and normalises the name of a bare-token header.
func tokenHeader(name string) (string, error) {
	h := strings.ToLower(strings.TrimSpace(name))
	switch h {
	case "":
		return "", errors.New("interceptor: empty token header name")
	case "authorization", "cookie", "grpcgateway-cookie":
		return "", fmt.Errorf("interceptor: token header %q is read already; name an extra header", h)
	}
	return h, nil
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
// still watched). A negative interval makes New fail. In local mode there
// is nothing to re-check: the validator cannot see revocation.
func WithStreamRecheck(interval time.Duration) Option {
	return func(o *options) {
		if interval < 0 {
			o.errs = append(o.errs, fmt.Errorf("interceptor: negative stream re-check interval %v", interval))
			return
		}
		o.recheck = interval
	}
}
