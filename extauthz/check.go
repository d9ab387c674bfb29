package extauthz

import (
	"context"
	"errors"
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
}

// outcome is the class of a verdict.
type outcome int

const (
	allowed     outcome = iota // a live session that meets the requirement
	public                     // no session needed
	denied                     // no session, or not a live one: 401
	forbidden                  // a live session that does not meet the requirement: 403
	unavailable                // Hanko could not be asked: 503
)

// verdict is decide's answer: what to do with a request, and why.
type verdict struct {
	outcome outcome
	reason  hankoauth.Reason
	session *hankoauth.Session // for allowed
	token   string             // for allowed: the token, to strip it
}

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
	r := request{edge: edgeCheck, method: h.GetMethod(), path: h.GetPath(), headers: lookup}
	if r.method == "" {
		r.method = first(lookup, ":method")
	}
	if r.path == "" {
		r.path = first(lookup, ":path")
	}
	v := s.decide(ctx, r)
	if v.outcome == unavailable && s.failure == ReturnError {
		return nil, grpcstatus.Error(codes.Unavailable, "extauthz: hanko is unavailable")
	}
	return s.checkResponse(v, r), nil
}

// decide is the one decision both edges make: public, or a live session
// that meets the requirement. It reports the decision to the hook and
// logs denials with their detail.
func (s *Server) decide(ctx context.Context, r request) verdict {
	v, err := s.judge(ctx, r)
	if s.hook != nil {
		s.hook(ctx, hankoauth.Decision{
			Edge:   r.edge,
			Result: result(v.outcome),
			Reason: v.reason,
			Target: target(r.path),
			Public: v.outcome == public,
		})
	}
	if err != nil {
		level := slog.LevelInfo
		if v.outcome == unavailable {
			level = slog.LevelWarn
		}
		s.log.LogAttrs(ctx, level, "extauthz: request "+result(v.outcome),
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
	if s.publicMethods[r.method] || isPublicPath(s.publicPaths, r.path) {
		return verdict{outcome: public, reason: hankoauth.ReasonOK}, nil
	}
	token, err := s.extractor.Extract(r.headers)
	if err != nil {
		return failed(err), err
	}
	sess, err := s.v.Validate(ctx, token)
	if err != nil {
		return failed(err), err
	}
	if s.require != nil {
		if err := s.require(ctx, sess); err != nil {
			return verdict{outcome: forbidden, reason: hankoauth.ReasonForbidden}, err
		}
	}
	return verdict{outcome: allowed, reason: hankoauth.ReasonOK, session: sess, token: token}, nil
}

// failed is the verdict for an error of extraction or validation.
func failed(err error) verdict {
	if errors.Is(err, hankoauth.ErrUnavailable) {
		return verdict{outcome: unavailable, reason: hankoauth.ReasonUnavailable}
	}
	return verdict{outcome: denied, reason: hankoauth.ReasonOf(err)}
}

// result is a Decision's Result for an outcome.
func result(o outcome) string {
	switch o {
	case allowed, public:
		return "allow"
	case unavailable:
		return "error"
	}
	return "deny"
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
		s.hook(ctx, hankoauth.Decision{Edge: edgeCheck, Result: "deny", Reason: ReasonNoHTTPAttributes})
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "extauthz: check request without HTTP attributes denied; is the network ext_authz filter pointed at this server?")
	return notHTTPResponse()
}
