package extauthz

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/hankoauth/hankoauth"
)

// The edges, as reported in hankoauth.Decision.Edge.
const (
	edgeCheck = "extauthz"
	edgeHTTP  = "http"
)

// request is what decide needs to know about one request, whichever edge
// it came through.
type request struct {
	edge    string
	method  string
	path    string // as sent: may carry a query
	headers hankoauth.HeaderLookup
	ext     map[string]string // the route's context extensions (Check only)
}

// verdict is decide's answer: what to do with a request, and why. Its
// reason's class (hankoauth.Reason.Info) says what kind of answer it is.
type verdict struct {
	reason  hankoauth.Reason
	public  bool               // no session needed
	session *hankoauth.Session // for an allowed request
	token   string             // for an allowed request: the token, to strip it
	source  hankoauth.Source   // where the token came from
}

func (v verdict) class() hankoauth.Class { return v.reason.Info().Class }

// Check answers Envoy's ext_authz CheckRequest. A denial is a normal
// CheckResponse; Check returns an error only in the ReturnError failure
// mode, when Hanko is unavailable.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	h := req.GetAttributes().GetRequest().GetHttp()
	if h == nil {
		return s.notHTTP(ctx), nil
	}
	ch, err := newCheckHeaders(h)
	if err != nil {
		return s.headersTooLarge(ctx, err), nil
	}
	lookup := ch.lookup
	r := request{edge: edgeCheck, method: h.GetMethod(), path: h.GetPath(), headers: lookup,
		ext: req.GetAttributes().GetContextExtensions()}
	if r.method == "" {
		r.method = first(lookup, ":method")
	}
	if r.path == "" {
		r.path = first(lookup, ":path")
	}
	v := s.decide(ctx, r)
	if v.class() == hankoauth.ClassUnavailable && s.failure == ReturnError {
		return nil, grpcstatus.Error(codes.Unavailable, "extauthz: hanko is unavailable")
	}
	return s.checkResponse(v, r), nil
}

// decide is the one decision both edges make: public, or a live session
// that meets the requirement. It reports the decision to the hook and
// logs denials with their detail.
func (s *Server) decide(ctx context.Context, r request) verdict {
	v, err := s.judge(ctx, r)
	if err != nil && ctx.Err() != nil {
		// The caller (Envoy's timeout, a client gone) gave up: whatever
		// the validator made of it, that is not Hanko's failure.
		v = verdict{reason: hankoauth.ReasonCanceled}
	}
	if s.hook != nil {
		s.hook(ctx, hankoauth.NewDecision(r.edge, v.reason, target(r.path), v.public))
	}
	if err != nil {
		level := slog.LevelInfo
		switch v.class() {
		case hankoauth.ClassUnavailable:
			level = slog.LevelWarn
		case hankoauth.ClassCanceled:
			level = slog.LevelDebug
		}
		s.log.LogAttrs(ctx, level, "extauthz: request "+v.class().Result(),
			slog.String("edge", r.edge),
			slog.String("reason", string(v.reason)),
			slog.String("method", r.method),
			slog.String("path", target(r.path)),
			slog.String("error", err.Error()),
		)
	}
	return v
}

// judge makes the decision; the error is the detail of a denial, for the
// log only.
func (s *Server) judge(ctx context.Context, r request) (verdict, error) {
	if s.publicVerbs[r.method] || isPublicPath(s.publicPaths, r.path) {
		return verdict{reason: hankoauth.ReasonOK, public: true}, nil
	}
	// The route's own requirements, from its context extensions: a
	// mistake in them denies every request of the route.
	route, err := s.routes.requirement(r.ext, s.v.Now)
	if err != nil {
		err = fmt.Errorf("%w: route misconfigured, every request denied: %v", hankoauth.ErrForbidden, err)
		return verdict{reason: hankoauth.ReasonOf(err)}, err
	}
	token, src, err := s.extractor.ExtractSource(r.headers)
	if err != nil {
		return verdict{reason: hankoauth.ReasonOf(err)}, err
	}
	sess, err := s.v.Validate(ctx, token)
	if err == nil {
		err = s.require.Check(ctx, sess)
	}
	if err == nil {
		err = route.Check(ctx, sess)
	}
	if err != nil {
		return verdict{reason: hankoauth.ReasonOf(err)}, err
	}
	return verdict{reason: hankoauth.ReasonOK, session: sess, token: token, source: src}, nil
}

// target is the path without its query, for logs: a query may carry
// secrets.
func target(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		return p[:i]
	}
	return p
}

// notHTTP denies a CheckRequest without HTTP attributes.
func (s *Server) notHTTP(ctx context.Context) *authv3.CheckResponse {
	if s.hook != nil {
		r := hankoauth.ReasonNoHTTPAttributes
		s.hook(ctx, hankoauth.NewDecision(edgeCheck, r, "", false))
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "extauthz: check request without HTTP attributes denied; is the network ext_authz filter pointed at this server?")
	return notHTTPResponse()
}
