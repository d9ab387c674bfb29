package hankoauth

import (
	"context"
	"fmt"
	"time"
)

// ErrReauthenticate is what RequireFreshLogin returns, wrapped, for a
// session whose login is too old: the user must log in again (not retry).
// It matches ErrForbidden too, like every error of a Requirement; its
// reason is ReasonReauthenticate.
var ErrReauthenticate = fmt.Errorf("%w: the login is too old", ErrForbidden)

// RequireFreshLogin allows sessions whose login (the token's "iat", when
// Hanko created the session) is at most maxAge old, for sensitive
// operations such as deleting an account or changing an email address. A
// session without "iat" is denied. The denial's reason is
// ReasonReauthenticate, so that clients send the user to log in again
// rather than retry. now is the clock, nil for time.Now: pass the
// validator's (Validator.Now), so that the age is measured on the clock
// that judged the token.
func RequireFreshLogin(maxAge time.Duration, now func() time.Time) Requirement {
	if now == nil {
		now = time.Now
	}
	return func(_ context.Context, s *Session) error {
		if s.IssuedAt.IsZero() {
			return fmt.Errorf("%w: the token has no iat", ErrReauthenticate)
		}
		if age := now().Sub(s.IssuedAt); age > maxAge {
			return fmt.Errorf("%w: logged in %v ago, more than %v", ErrReauthenticate, age.Round(time.Second), maxAge)
		}
		return nil
	}
}
