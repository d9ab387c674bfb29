package extauthz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"

	"github.com/hankoauth/hankoauth"
)

// The default names of the identity headers the server sets on allowed
// requests, and removes from every other request.
const (
	DefaultUserIDHeader    = "x-hanko-user-id"
	DefaultSessionIDHeader = "x-hanko-session-id"
	DefaultEmailHeader     = "x-hanko-email"
)

// DefaultRetryAfter is the Retry-After of a 503 answer when Hanko is
// unavailable.
const DefaultRetryAfter = time.Second

// MetadataNamespace is where Envoy's HTTP ext_authz filter puts the
// dynamic metadata of a CheckResponse (see the package documentation).
const MetadataNamespace = "envoy.filters.http.ext_authz"

// FailureMode says what Check does when the session cannot be checked
// because Hanko or its JWKS is unavailable.
type FailureMode int

const (
	// FailClosed (the default) denies the request with a normal
	// CheckResponse: status UNAVAILABLE, HTTP 503 with Retry-After. Envoy
	// forwards that answer to the client whatever its failure_mode_allow
	// says.
	FailClosed FailureMode = iota
	// ReturnError makes Check return a gRPC Unavailable error instead, so
	// that Envoy's own failure_mode_allow and status_on_error decide.
	// With failure_mode_allow: true that lets requests through without a
	// session while Hanko is down: choose it knowingly.
	ReturnError
)

func (m FailureMode) String() string {
	switch m {
	case FailClosed:
		return "fail-closed"
	case ReturnError:
		return "return-error"
	}
	return "FailureMode(" + strconv.Itoa(int(m)) + ")"
}

// Server is an Envoy external authorization server (envoy.service.auth.v3)
// that admits requests carrying a live Hanko session. It also serves the
// same decisions over plain HTTP (HTTPHandler). It is safe for concurrent
// use and holds no state of its own: the validator caches sessions.
type Server struct {
	v         *hankoauth.Validator
	extractor hankoauth.Extractor
	cookie    string // the session cookie's name
	require   hankoauth.Requirement
	log       *slog.Logger
	hook      func(context.Context, hankoauth.Decision)
	failure   FailureMode
	retry     string // Retry-After value, in seconds
	strip     bool

	publicPaths []pathPattern
	publicVerbs map[string]bool // HTTP methods that need no session

	userID, sessionID, email string        // identity header names, lower-case
	claims                   []claimHeader // custom claim headers
	identity                 []string      // all identity header names, for removal

	errs []error // invalid options, reported by NewServer

	routes routeCache // parsed context extensions, by their values
	ok     okCache    // response parts of recently allowed sessions
}

var _ authv3.AuthorizationServer = (*Server)(nil)

// claimHeader maps one top-level custom claim to a header.
type claimHeader struct {
	claim, header string
}

// Option configures a Server. An invalid option makes NewServer fail.
type Option func(*Server)

// WithRequirement adds a claims policy: a live session that does not meet
// it is denied with PERMISSION_DENIED / 403. Several requirements compose:
// each given one must be met (as with hankoauth.RequireAll), here and in
// package interceptor alike. A nil r makes NewServer fail.
func WithRequirement(r hankoauth.Requirement) Option {
	return func(s *Server) {
		if r == nil {
			s.errs = append(s.errs, errors.New("extauthz: WithRequirement(nil)"))
			return
		}
		if s.require == nil {
			s.require = r
			return
		}
		s.require = hankoauth.RequireAll(s.require, r)
	}
}

// WithLogger sets where decisions that deny, or fail, are logged with
// their detail. Without it nothing is logged, as everywhere in hankoauth.
// Tokens are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) { s.log = l }
}

// WithCookieName sets the session cookie's name, Hanko's
// session.cookie.name. Default "hanko".
func WithCookieName(name string) Option {
	return func(s *Server) { s.cookie = name }
}

// WithIdentityHeaders renames the headers that carry the user id, the
// session id and the email address to the upstream. An empty name keeps
// its default.
func WithIdentityHeaders(userID, sessionID, email string) Option {
	return func(s *Server) {
		if userID != "" {
			s.userID = userID
		}
		if sessionID != "" {
			s.sessionID = sessionID
		}
		if email != "" {
			s.email = email
		}
	}
}

// WithClaimHeader sends the top-level custom claim (as Hanko's JWT
// templates add them) to the upstream in header. A string is sent as it
// is, a number or a boolean in its JSON form; null, objects and arrays,
// and strings with control characters, are not sent. Like the other
// identity headers, header is removed from every request that does not
// get it from the session.
func WithClaimHeader(claim, header string) Option {
	return func(s *Server) { s.claims = append(s.claims, claimHeader{claim: claim, header: header}) }
}

// WithDecisionHook calls hook with every decision, for metrics. Edge is
// "extauthz" for Check and "http" for the HTTP handler. The hook runs on
// the request's goroutine and must be fast.
func WithDecisionHook(hook func(context.Context, hankoauth.Decision)) Option {
	return func(s *Server) { s.hook = hook }
}

// WithFailureMode sets what happens when Hanko is unavailable. Default
// FailClosed.
func WithFailureMode(m FailureMode) Option {
	return func(s *Server) { s.failure = m }
}

// WithRetryAfter sets the Retry-After of a 503 answer, rounded up to whole
// seconds (at least 1). Default 1 s.
func WithRetryAfter(d time.Duration) Option {
	return func(s *Server) { s.retry = retryAfter(d) }
}

// WithStripToken, when on, removes the session token from an allowed
// request before it goes upstream: the Authorization header when the token
// came from it, and the session cookie from the Cookie header (the header
// is rewritten without it, or removed when it was its only cookie). Off by
// default, since some upstreams call Hanko with the token themselves.
func WithStripToken(on bool) Option {
	return func(s *Server) { s.strip = on }
}

// WithPublicPaths lets requests for the given paths through without a
// session. A pattern is an exact path ("/healthz"), or a prefix: one
// ending in "/" ("/public/") matches every path below it and itself, one
// ending in "*" ("/static*") every path that starts with what precedes the
// "*". Matching is case-sensitive and applies to the normalised path (see
// the package documentation). Patterns must be clean absolute paths;
// NewServer fails otherwise.
func WithPublicPaths(patterns ...string) Option {
	return func(s *Server) {
		for _, p := range patterns {
			pp, err := parsePattern(p)
			if err != nil {
				s.errs = append(s.errs, err)
				continue
			}
			s.publicPaths = append(s.publicPaths, pp)
		}
	}
}

// WithPublicHTTPMethods lets requests with the given HTTP methods (verbs)
// through without a session, on every path: typically "OPTIONS", for
// CORS preflight requests, which browsers send without cookies. Methods
// are compared case-sensitively, as HTTP does; a method that is not an
// HTTP token makes NewServer fail. (Not to be confused with
// interceptor.WithPublicMethods, which names gRPC methods.)
func WithPublicHTTPMethods(methods ...string) Option {
	return func(s *Server) {
		if s.publicVerbs == nil {
			s.publicVerbs = make(map[string]bool)
		}
		for _, m := range methods {
			if !isToken(m) {
				s.errs = append(s.errs, fmt.Errorf("extauthz: %q is not an HTTP method", m))
				continue
			}
			s.publicVerbs[m] = true
		}
	}
}

// NewServer returns an ext_authz server that checks sessions with v. It
// fails when v is nil or an option is invalid (a public path pattern, an
// HTTP method, or a header name that is not a valid, non-reserved HTTP
// header name).
func NewServer(v *hankoauth.Validator, opts ...Option) (*Server, error) {
	if v == nil {
		return nil, errors.New("extauthz: NewServer needs a validator")
	}
	s := &Server{
		v:         v,
		log:       slog.New(slog.DiscardHandler),
		retry:     retryAfter(DefaultRetryAfter),
		userID:    DefaultUserIDHeader,
		sessionID: DefaultSessionIDHeader,
		email:     DefaultEmailHeader,
	}
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cookie == "" {
		s.cookie = hankoauth.DefaultCookieName
	}
	s.extractor = hankoauth.Extractor{CookieName: s.cookie}
	s.userID = s.headerName(s.userID)
	s.sessionID = s.headerName(s.sessionID)
	s.email = s.headerName(s.email)
	s.identity = []string{s.userID, s.sessionID, s.email}
	for i := range s.claims {
		s.claims[i].header = s.headerName(s.claims[i].header)
		if s.claims[i].claim == "" {
			s.errs = append(s.errs, errors.New("extauthz: WithClaimHeader needs a claim name"))
		}
		s.identity = append(s.identity, s.claims[i].header)
	}
	seen := make(map[string]bool, len(s.identity))
	for _, h := range s.identity {
		if seen[h] && h != "" {
			s.errs = append(s.errs, fmt.Errorf("extauthz: header %q is configured twice", h))
		}
		seen[h] = true
	}
	if err := errors.Join(s.errs...); err != nil {
		return nil, err
	}
	s.errs = nil
	return s, nil
}

// Register registers s as the envoy.service.auth.v3.Authorization service
// of r (a *grpc.Server, say).
func (s *Server) Register(r grpc.ServiceRegistrar) {
	authv3.RegisterAuthorizationServer(r, s)
}

// headerName returns the lower-case form of a header name; it records an
// error if the name is not a token (RFC 9110) or is a header the server
// must not set.
func (s *Server) headerName(h string) string {
	h = strings.ToLower(h)
	switch {
	case h == "":
		s.errs = append(s.errs, errors.New("extauthz: empty header name"))
	case !isToken(h):
		s.errs = append(s.errs, fmt.Errorf("extauthz: %q is not a valid header name", h))
	}
	switch h {
	case "authorization", "cookie", "host", "content-type", "content-length",
		"transfer-encoding", "connection", "te", "upgrade":
		s.errs = append(s.errs, fmt.Errorf("extauthz: %q cannot be an identity header", h))
	}
	return h
}

// isToken reports whether s is a non-empty token of RFC 9110 (a header
// name or an HTTP method).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// retryAfter formats d as a Retry-After value in whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	secs := (d + time.Second - 1) / time.Second
	return strconv.FormatInt(int64(max(secs, 1)), 10)
}
