package sessionservice

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/hankoauth/hankoauth"
	hankoauthv1 "github.com/hankoauth/hankoauth/gen/hankoauth/v1"
	"github.com/hankoauth/hankoauth/interceptor"
)

// The bounds and default of WatchSession's interval.
const (
	DefaultWatchInterval = 10 * time.Second
	MinWatchInterval     = time.Second
	MaxWatchInterval     = 5 * time.Minute
)

// Service implements hankoauth.v1.SessionService. Create it with New.
type Service struct {
	hankoauthv1.UnimplementedSessionServiceServer

	v         *hankoauth.Validator
	extractor hankoauth.Extractor
	log       *slog.Logger
	interval  time.Duration // WatchSession's default interval
	minIvl    time.Duration
	maxIvl    time.Duration
}

// Option configures a Service.
type Option func(*Service)

// WithCookieName sets the name of Hanko's session cookie, as given to the
// interceptors with interceptor.WithCookieName. WatchSession uses it only
// when the interceptors did not hand it the token (another authenticator).
// Default "hanko".
func WithCookieName(name string) Option {
	return func(s *Service) { s.extractor.CookieName = name }
}

// WithTokenHeader names the metadata key of a bare token, as given to the
// interceptors with interceptor.WithTokenHeader.
func WithTokenHeader(name string) Option {
	return func(s *Service) {
		if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
			s.extractor.TokenHeaders = []string{name}
		}
	}
}

// WithLogger sets where WatchSession logs why a stream ended (never a
// token). Without it nothing is logged, as everywhere in hankoauth.
func WithLogger(l *slog.Logger) Option {
	return func(s *Service) { s.log = l }
}

// WithWatchInterval sets WatchSession's interval when the request names
// none, and the bounds a requested interval is clamped to. A zero value
// keeps its default: DefaultWatchInterval, MinWatchInterval,
// MaxWatchInterval. The default is clamped to the bounds.
func WithWatchInterval(def, minimum, maximum time.Duration) Option {
	return func(s *Service) {
		if def > 0 {
			s.interval = def
		}
		if minimum > 0 {
			s.minIvl = minimum
		}
		if maximum > 0 {
			s.maxIvl = maximum
		}
	}
}

// New returns the service for v. It panics if v is nil.
func New(v *hankoauth.Validator, opts ...Option) *Service {
	if v == nil {
		panic("sessionservice: nil validator")
	}
	s := &Service{
		v:         v,
		extractor: hankoauth.Extractor{CookieHeaders: []string{"cookie", "grpcgateway-cookie"}},
		log:       slog.New(slog.DiscardHandler),
		interval:  DefaultWatchInterval,
		minIvl:    MinWatchInterval,
		maxIvl:    MaxWatchInterval,
	}
	for _, opt := range opts {
		opt(s)
	}
	s.maxIvl = max(s.maxIvl, s.minIvl)
	s.interval = min(max(s.interval, s.minIvl), s.maxIvl)
	return s
}

// Register registers s as the hankoauth.v1.SessionService of r.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	hankoauthv1.RegisterSessionServiceServer(r, s)
}

// WhoAmI returns the caller's session, as the interceptors put it in ctx.
func (s *Service) WhoAmI(ctx context.Context, _ *hankoauthv1.WhoAmIRequest) (*hankoauthv1.WhoAmIResponse, error) {
	sess, ok := hankoauth.FromContext(ctx)
	if !ok {
		return nil, interceptor.StatusFromError(hankoauth.ErrNoToken).Err()
	}
	return &hankoauthv1.WhoAmIResponse{Session: ToProto(sess)}, nil
}

// ValidateSession validates the token in the request. A token that is not
// a live session is a normal answer (valid false and its reason); an
// unreachable Hanko is an Unavailable error.
func (s *Service) ValidateSession(ctx context.Context, req *hankoauthv1.ValidateSessionRequest) (*hankoauthv1.ValidateSessionResponse, error) {
	sess, err := s.v.Validate(ctx, req.GetSessionToken())
	switch {
	case err == nil:
		return &hankoauthv1.ValidateSessionResponse{Valid: true, Session: ToProto(sess)}, nil
	case errors.Is(err, hankoauth.ErrNoToken), errors.Is(err, hankoauth.ErrInvalidToken):
		return &hankoauthv1.ValidateSessionResponse{Reason: string(hankoauth.ReasonOf(err))}, nil
	}
	if ctx.Err() == nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "hankoauth: ValidateSession could not check a token",
			slog.String("reason", string(hankoauth.ReasonOf(err))),
			slog.String("error", err.Error()))
	}
	return nil, interceptor.StatusFromError(err).Err()
}
