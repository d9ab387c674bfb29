package hankoauth

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Session is a live Hanko session, as the validator established it. A
// Session returned by Validate may be shared between callers (it comes from
// the cache): treat it as read-only.
type Session struct {
	// UserID is the Hanko user's id (the token's "sub").
	UserID string
	// SessionID is the id of the session row in Hanko (the "session_id" claim).
	SessionID string
	// Email is the user's primary email address, nil when the token has none.
	Email *Email
	// Username is the user's username, empty when the token has none.
	Username string
	// Audience is the token's "aud".
	Audience []string
	// Issuer is the token's "iss", empty unless Hanko's session.issuer is set.
	Issuer string
	// AMR lists the authentication methods of the login ("pwd", "otp",
	// "passkey", "ext:<provider>", ...), empty for admin-minted sessions.
	AMR []string
	// IssuedAt and ExpiresAt are the token's "iat" and "exp".
	IssuedAt  time.Time
	ExpiresAt time.Time
	// IdleExpiresAt is when Hanko will end the session for inactivity, as
	// Hanko last reported it; zero when unknown (local mode, or no idle
	// timeout configured in Hanko).
	IdleExpiresAt time.Time

	// claims is the raw JSON claims object: the JWT payload, or in remote
	// mode the "claims" object of Hanko's answer.
	claims json.RawMessage
}

// Email is the email claim of a Hanko session token.
type Email struct {
	Address  string
	Verified bool
	Primary  bool
}

// EndsAt is when the session ends by time: ExpiresAt, or IdleExpiresAt
// when Hanko reported an earlier one. It is zero only for a Session that
// did not come from Validate (which always knows ExpiresAt).
func (s *Session) EndsAt() time.Time {
	if !s.IdleExpiresAt.IsZero() && (s.ExpiresAt.IsZero() || s.IdleExpiresAt.Before(s.ExpiresAt)) {
		return s.IdleExpiresAt
	}
	return s.ExpiresAt
}

// HasAMR reports whether the session's login used the authentication
// method m (for example "passkey").
func (s *Session) HasAMR(m string) bool {
	for _, a := range s.AMR {
		if a == m {
			return true
		}
	}
	return false
}

// Claims unmarshals the token's claims into v, for custom claims that
// Hanko's JWT templates add. In remote mode it reads the "claims" object of
// Hanko's validate answer instead, where the standard claims have other
// names ("subject", "expiration", ...) and custom claims keep theirs.
func (s *Session) Claims(v any) error {
	if len(s.claims) == 0 {
		return errors.New("hankoauth: session has no claims")
	}
	return json.Unmarshal(s.claims, v)
}

type sessionKey struct{}

// NewContext returns a copy of ctx that carries s.
func NewContext(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// FromContext returns the session that NewContext stored in ctx.
func FromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(*Session)
	return s, ok && s != nil
}
