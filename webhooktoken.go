package hankoauth

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
)

// WebhookSubject is the "sub" claim of Hanko's webhook tokens.
const WebhookSubject = "hanko webhooks"

// ReasonNotWebhookToken: a token signed by Hanko that is not a webhook
// token (another "sub", no "evt", a session_id). Only VerifyWebhook
// returns it, never Validate, so it is not one of the edges' Reasons.
const ReasonNotWebhookToken Reason = "NOT_A_WEBHOOK_TOKEN"

// ErrNotWebhookToken is the precise reason of a token that VerifyWebhook
// refuses because it is not a Hanko webhook token, such as a session
// token. It matches ErrInvalidToken.
var ErrNotWebhookToken = &reasonError{ReasonNotWebhookToken, "token is not a Hanko webhook token"}

// Webhook is a webhook token that VerifyWebhook accepted.
type Webhook struct {
	// Event is the "evt" claim, such as "session.delete.explicit.logout".
	Event string
	// IssuedAt and ExpiresAt are "iat" and "exp" (Hanko: exp = iat + 300 s).
	IssuedAt, ExpiresAt time.Time
	// Data is the "data" claim: the session row for session.* events,
	// the user for user.* events.
	Data json.RawMessage
}

// webhookClaims are the claims of a Hanko webhook token.
type webhookClaims struct {
	jwt.Claims
	Event     string          `json:"evt"`
	Data      json.RawMessage `json:"data"`
	SessionID *string         `json:"session_id"`
}

// VerifyWebhook checks token as a webhook token of the validator's Hanko:
// signed with a key of the same JWKS as session tokens (with the same
// algorithm rules and rate-limited refresh on an unknown kid), "sub"
// "hanko webhooks", an "evt", no "session_id", "exp" and "iat" present
// and current (within Config.Leeway), and "aud" when Config.Audience is
// set. Errors match ErrInvalidToken (with the precise reason, often
// ErrNotWebhookToken) or ErrUnavailable (no JWKS yet; always in remote
// mode, which keeps none).
func (v *Validator) VerifyWebhook(ctx context.Context, token string) (*Webhook, error) {
	if token == "" {
		return nil, newError(ErrNoToken, nil)
	}
	if v.keys == nil {
		return nil, newError(ErrUnavailable, errors.New("remote mode keeps no JWKS to verify webhooks with"))
	}
	payload, err := v.verifySignature(ctx, token)
	if err != nil {
		return nil, err
	}
	var c webhookClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, newError(ErrMalformed, err)
	}
	switch {
	case c.Subject != WebhookSubject:
		return nil, newError(ErrNotWebhookToken, errors.New(`sub is not "hanko webhooks"`))
	case c.Event == "":
		return nil, newError(ErrNotWebhookToken, errors.New("no evt"))
	case c.SessionID != nil:
		return nil, newError(ErrNotWebhookToken, errors.New("a session_id"))
	case c.IssuedAt == nil:
		return nil, newError(ErrMalformed, errors.New("webhook token without iat"))
	}
	if err := v.checkTimes(&c.Claims, v.cfg.Now()); err != nil {
		return nil, err
	}
	switch {
	case v.cfg.Issuer != "" && c.Issuer != "" && c.Issuer != v.cfg.Issuer:
		return nil, newError(ErrWrongIssuer, nil)
	case !v.audienceAccepted(c.Audience):
		return nil, newError(ErrWrongAudience, nil)
	}
	return &Webhook{Event: c.Event, IssuedAt: c.IssuedAt.Time(), ExpiresAt: c.Expiry.Time(), Data: c.Data}, nil
}
