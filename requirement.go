package hankoauth

import (
	"context"
	"errors"
	"fmt"
)

// ErrForbidden is what a Requirement returns, or wraps, when an
// authenticated session is not allowed. The edges answer
// PermissionDenied / 403 for any error a Requirement returns.
var ErrForbidden = errors.New("hankoauth: session does not meet the requirement")

// Requirement is a claims policy that the edges (gRPC interceptors, the
// ext_authz server) apply to a live session. It returns nil to allow, or
// an error (ErrForbidden or one wrapping it) to deny with PermissionDenied.
// The error's text goes to the log only.
type Requirement func(ctx context.Context, s *Session) error

// Check applies r to s: nil when r allows (or r is nil), otherwise an
// error that matches ErrForbidden (r's own error, wrapped when it does not
// match already), as the contract says every error of a Requirement
// denies.
func (r Requirement) Check(ctx context.Context, s *Session) error {
	if r == nil {
		return nil
	}
	err := r(ctx, s)
	if err == nil || errors.Is(err, ErrForbidden) {
		return err
	}
	return &forbiddenError{err}
}

type forbiddenError struct{ err error }

func (e *forbiddenError) Error() string   { return ErrForbidden.Error() + ": " + e.err.Error() }
func (e *forbiddenError) Unwrap() []error { return []error{ErrForbidden, e.err} }

// RequireVerifiedEmail allows sessions whose token carries a verified email
// address.
func RequireVerifiedEmail() Requirement {
	return func(_ context.Context, s *Session) error {
		if s.Email == nil || !s.Email.Verified {
			return fmt.Errorf("%w: no verified email", ErrForbidden)
		}
		return nil
	}
}

// RequireAMR allows sessions whose login used one of the given
// authentication methods ("passkey", "pwd", "otp", "ext:google", ...).
func RequireAMR(methods ...string) Requirement {
	return func(_ context.Context, s *Session) error {
		for _, m := range methods {
			if s.HasAMR(m) {
				return nil
			}
		}
		return fmt.Errorf("%w: login method not in %v", ErrForbidden, methods)
	}
}

// RequireAll allows a session that meets every requirement.
func RequireAll(reqs ...Requirement) Requirement {
	return func(ctx context.Context, s *Session) error {
		for _, r := range reqs {
			if err := r(ctx, s); err != nil {
				return err
			}
		}
		return nil
	}
}

// The Results of a Decision.
const (
	ResultAllow    = "allow"    // a live session that meets the requirement
	ResultPublic   = "public"   // a target that needs no session
	ResultDeny     = "deny"     // no live session, or a requirement said no
	ResultError    = "error"    // the session could not be checked (Hanko unavailable)
	ResultCanceled = "canceled" // the caller gave up before the check was done
)

// Decision is what an edge decided about one request, reported to the
// edges' decision hooks for metrics and logs.
type Decision struct {
	// Edge is "interceptor", "extauthz" or "http".
	Edge string
	// Result is one of the Result constants: ResultAllow, ResultPublic,
	// ResultDeny, ResultError or ResultCanceled. It is Reason's class's
	// Result, but ResultPublic for a public target.
	Result string
	// Reason is ReasonOK, a Validate reason, ReasonForbidden or
	// ReasonNoHTTPAttributes.
	Reason Reason
	// Target is the gRPC method or the HTTP path: for logs, never a metric
	// label.
	Target string
	// Public is true when the target needed no session.
	Public bool
}

// NewDecision is the Decision of edge about target for reason r: its
// Result is r's class's, or ResultPublic when the target is public.
func NewDecision(edge string, r Reason, target string, public bool) Decision {
	d := Decision{Edge: edge, Result: r.Info().Class.Result(), Reason: r, Target: target, Public: public}
	if public {
		d.Result = ResultPublic
	}
	return d
}

// DecisionResult returns the Result of a Decision for the error a
// validation or a requirement returned: ReasonOf(err).Info().Class.Result().
func DecisionResult(err error) string {
	return ReasonOf(err).Info().Class.Result()
}
