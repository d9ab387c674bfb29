package hankoauth

import (
	"context"
	"errors"
	"fmt"
)

// ReasonForbidden is the reason the edges give when a live session does
// not meet a Requirement. It is not an error of Validate.
const ReasonForbidden Reason = "PERMISSION_DENIED"

// ErrForbidden is what a Requirement returns, or wraps, when an
// authenticated session is not allowed. The edges answer
// PermissionDenied / 403 for any error a Requirement returns.
var ErrForbidden = errors.New("hankoauth: session does not meet the requirement")

// Requirement is a claims policy that the edges (gRPC interceptors, the
// ext_authz server) apply to a live session. It returns nil to allow, or
// an error (ErrForbidden or one wrapping it) to deny with PermissionDenied.
// The error's text goes to the log only.
type Requirement func(ctx context.Context, s *Session) error

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

// Decision is what an edge decided about one request, reported to the
// edges' decision hooks for metrics and logs.
type Decision struct {
	// Edge is "interceptor", "extauthz" or "http".
	Edge string
	// Result is "allow", "deny" or "error" (the check could not be made).
	Result string
	// Reason is ReasonOK, a Validate reason or ReasonForbidden.
	Reason Reason
	// Target is the gRPC method or the HTTP path: for logs, never a metric
	// label.
	Target string
	// Public is true when the target needed no session.
	Public bool
}

// DecisionResult returns the Result of a Decision for the error a
// validation or a requirement returned.
func DecisionResult(err error) string {
	switch {
	case err == nil:
		return "allow"
	case errors.Is(err, ErrUnavailable):
		return "error"
	case errors.Is(err, ErrNoToken), errors.Is(err, ErrInvalidToken), errors.Is(err, ErrForbidden):
		return "deny"
	}
	return "error"
}
