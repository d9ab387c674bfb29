package hankoauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxValidateBytes bounds the answer of /sessions/validate that the
// validator reads. Hanko's answers are well under 4 KiB.
const maxValidateBytes = 64 << 10

// validateRequest is the body of POST /sessions/validate.
type validateRequest struct {
	SessionToken string `json:"session_token"`
}

// validateResponse is Hanko's answer to POST /sessions/validate
// (fixtures 04-*). Hanko answers 200 for invalid tokens too: is_valid is
// what counts.
type validateResponse struct {
	IsValid       *bool           `json:"is_valid"`
	Claims        json.RawMessage `json:"claims"`
	IdleExpiresAt *time.Time      `json:"idle_expires_at"`
}

// remoteClaims is the "claims" object of a valid answer.
type remoteClaims struct {
	Subject    string      `json:"subject"`
	SessionID  string      `json:"session_id"`
	Expiration time.Time   `json:"expiration"`
	IssuedAt   time.Time   `json:"issued_at"`
	Audience   []string    `json:"audience"`
	Issuer     string      `json:"issuer"`
	Email      *emailClaim `json:"email"`
	Username   string      `json:"username"`
	AMR        []string    `json:"amr"`
}

// errHankoProtocol marks an answer of Hanko's that breaks its contract.
var errHankoProtocol = errors.New("unexpected answer from hanko")

// remoteValidate asks Hanko whether the session of raw is live. It returns
// the session Hanko reports (IdleExpiresAt set when Hanko sent it), or an
// *Error: ErrRevoked for is_valid:false, ErrMalformed for a 400, and
// ErrUnavailable for anything else that went wrong.
func (v *Validator) remoteValidate(ctx context.Context, raw string) (*Session, error) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.RequestTimeout)
	defer cancel()
	start := time.Now()
	s, outcome, err := v.postValidate(ctx, raw)
	if h := v.cfg.Hooks.HankoRequest; h != nil {
		h(outcome, time.Since(start))
	}
	switch {
	case v.life.Err() != nil:
		// Cancelled by Close: says nothing about Hanko.
	case outcome == "error":
		v.cfg.Logger.Warn("hankoauth: session validation at hanko failed", "url", v.validateURL, "error", err)
		v.outage.failed(v.cfg.Now())
	default:
		v.outage.answered(v.cfg.Now())
	}
	return s, err
}

func (v *Validator) postValidate(ctx context.Context, raw string) (*Session, string, error) {
	body, err := json.Marshal(validateRequest{SessionToken: raw})
	if err != nil {
		return nil, "error", newError(ErrUnavailable, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.validateURL, bytes.NewReader(body))
	if err != nil {
		return nil, "error", newError(ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		// The client's error names the URL, never the body: no token.
		return nil, "error", newError(ErrUnavailable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxValidateBytes+1))
	if err != nil {
		return nil, "error", newError(ErrUnavailable, fmt.Errorf("reading hanko's answer: %w", err))
	}
	if v.cfg.Mode == ModeRemote {
		v.markReady()
	}
	switch {
	case resp.StatusCode == http.StatusBadRequest:
		return nil, "bad_request", newError(ErrMalformed, errors.New("hanko answered 400"))
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, "error", newError(ErrUnavailable, fmt.Errorf("hanko answered %s to %q; redirects are never followed (is APIURL the final URL?)", resp.Status, resp.Header.Get("Location")))
	case resp.StatusCode != http.StatusOK:
		return nil, "error", newError(ErrUnavailable, fmt.Errorf("hanko answered %s", resp.Status))
	case resp.Request != nil && (resp.Request.Method != http.MethodPost || resp.Request.URL.String() != v.validateURL):
		// A client whose transport follows redirects by itself: the
		// answer is not about this token.
		return nil, "error", newError(ErrUnavailable, fmt.Errorf("hanko's answer came from %s %s, not from the POST to %s", resp.Request.Method, resp.Request.URL.Redacted(), v.validateURL))
	case len(data) > maxValidateBytes:
		return nil, "error", newError(ErrUnavailable, fmt.Errorf("%w: answer larger than %d bytes", errHankoProtocol, maxValidateBytes))
	}
	s, err := parseValidateResponse(data)
	if err != nil {
		if errors.Is(err, ErrInvalidToken) {
			return nil, "invalid", err
		}
		return nil, "error", err
	}
	return s, "valid", nil
}

// parseValidateResponse turns the body of a 200 from /sessions/validate
// into a Session, ErrRevoked (is_valid false), or ErrUnavailable (a body
// that breaks Hanko's contract).
func parseValidateResponse(data []byte) (*Session, error) {
	var r validateResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, newError(ErrUnavailable, fmt.Errorf("%w: %v", errHankoProtocol, err))
	}
	if r.IsValid == nil {
		return nil, newError(ErrUnavailable, fmt.Errorf("%w: no is_valid", errHankoProtocol))
	}
	if !*r.IsValid {
		return nil, newError(ErrRevoked, errors.New("hanko answered is_valid false"))
	}
	var c remoteClaims
	if len(r.Claims) == 0 || json.Unmarshal(r.Claims, &c) != nil || c.Subject == "" || c.SessionID == "" || c.Expiration.IsZero() {
		return nil, newError(ErrUnavailable, fmt.Errorf("%w: a valid session without subject, session_id or expiration", errHankoProtocol))
	}
	s := &Session{
		UserID:    c.Subject,
		SessionID: c.SessionID,
		Username:  c.Username,
		Audience:  c.Audience,
		Issuer:    c.Issuer,
		AMR:       c.AMR,
		IssuedAt:  c.IssuedAt,
		ExpiresAt: c.Expiration,
		claims:    r.Claims,
	}
	if c.Email != nil && c.Email.Address != "" {
		s.Email = &Email{Address: c.Email.Address, Verified: c.Email.IsVerified, Primary: c.Email.IsPrimary}
	}
	if r.IdleExpiresAt != nil {
		s.IdleExpiresAt = *r.IdleExpiresAt
	}
	return s, nil
}
