package hankoauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// signatureAlgs are the algorithms a token's header may name: asymmetric
// ones only, never "none" or HMAC. Each key then accepts only its own.
var signatureAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
}

// tokenClaims are the claims of a Hanko session token that the validator
// reads.
type tokenClaims struct {
	jwt.Claims
	SessionID string      `json:"session_id"`
	Email     *emailClaim `json:"email"`
	Username  string      `json:"username"`
	AMR       []string    `json:"amr"`
}

type emailClaim struct {
	Address    string `json:"address"`
	IsPrimary  bool   `json:"is_primary"`
	IsVerified bool   `json:"is_verified"`
}

// parsedToken is a token whose structure has been read, not yet verified.
type parsedToken struct {
	jws *jwt.JSONWebToken
	kid string
	alg jose.SignatureAlgorithm
}

// parseToken reads the compact JWS without verifying it. A token that is
// not a JWS, or names an algorithm outside signatureAlgs, is malformed.
func parseToken(raw string) (*parsedToken, error) {
	if len(raw) > MaxTokenLength {
		return nil, newError(ErrMalformed, errTooLong)
	}
	tok, err := jwt.ParseSigned(raw, signatureAlgs)
	if err != nil {
		return nil, newError(ErrMalformed, err)
	}
	if len(tok.Headers) != 1 {
		return nil, newError(ErrMalformed, errors.New("token must have exactly one signature"))
	}
	h := tok.Headers[0]
	return &parsedToken{jws: tok, kid: h.KeyID, alg: jose.SignatureAlgorithm(h.Algorithm)}, nil
}

// verifyLocal checks the token's signature against the JWKS and its claims
// against cfg, and returns the session it names. It touches the network
// only to fetch the JWKS when the kid is unknown (rate-limited).
func (v *Validator) verifyLocal(ctx context.Context, raw string, now time.Time) (*Session, error) {
	payload, err := v.verifySignature(ctx, raw)
	if err != nil {
		return nil, err
	}
	var c tokenClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, newError(ErrMalformed, err)
	}
	if err := v.checkClaims(&c, now); err != nil {
		return nil, err
	}
	s := c.session()
	s.claims = payload
	s.compact(payload)
	return s, nil
}

// verifySignature checks the signature of the compact JWS raw against the
// JWKS and returns its payload, unchecked. It touches the network only to
// fetch the JWKS when the kid is unknown (rate-limited).
func (v *Validator) verifySignature(ctx context.Context, raw string) (json.RawMessage, error) {
	tok, err := parseToken(raw)
	if err != nil {
		return nil, err
	}
	if tok.kid == "" {
		return nil, newError(ErrUnknownKey, errors.New("token has no kid"))
	}
	key, ok := v.keys.lookup(tok.kid)
	if !ok {
		if v.keys.current.Load() == nil {
			if err := v.keys.refresh(ctx, true); err != nil {
				// No key set was ever loaded: we cannot judge any token.
				// The fetch this tried is rate-limited like any on demand,
				// so requests fail fast while Hanko is down.
				return nil, v.notReady("no JWKS loaded yet")
			}
		}
		key, ok = v.keys.lookup(tok.kid)
		if !ok {
			err := v.keys.refresh(ctx, true)
			key, ok = v.keys.lookup(tok.kid)
			switch {
			case ok:
			case err != nil:
				// No fresh key set to judge by: the refresh was
				// rate-limited (perhaps by someone spending it on
				// random kids), failed, or the caller gave up. The
				// kid may be a key Hanko has just rotated in, so the
				// answer is "retry", not "log in again".
				return nil, newError(ErrUnavailable, fmt.Errorf("kid not in the key set, which could not be refreshed: %w", err))
			default:
				return nil, newError(ErrUnknownKey, errors.New("kid not in the freshly fetched key set"))
			}
		}
	}
	if tok.alg != key.alg {
		return nil, newError(ErrBadSignature, fmt.Errorf("token alg %s does not match key alg %s", tok.alg, key.alg))
	}
	var payload json.RawMessage
	if err := v.acquireCold(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	err = tok.jws.Claims(key.key, &payload)
	v.releaseCold(time.Since(start))
	if err != nil {
		return nil, newError(ErrBadSignature, err)
	}
	return payload, nil
}

// checkClaims applies the validator's claim rules, stricter than Hanko's
// own: exp present, times within Leeway, aud and iss when configured, sub
// and session_id present.
func (v *Validator) checkClaims(c *tokenClaims, now time.Time) error {
	if err := v.checkTimes(&c.Claims, now); err != nil {
		return err
	}
	switch {
	case c.SessionID == "":
		return newError(ErrNotSessionToken, errors.New("token has no session_id"))
	case c.Subject == "":
		return newError(ErrNotSessionToken, errors.New("token has no sub"))
	case v.cfg.Issuer != "" && c.Issuer != v.cfg.Issuer:
		return newError(ErrWrongIssuer, nil)
	case !v.audienceAccepted(c.Audience):
		return newError(ErrWrongAudience, nil)
	}
	return nil
}

// checkTimes checks a token's exp (required), nbf and iat at now, with the
// configured leeway: the checks session and webhook tokens share.
func (v *Validator) checkTimes(c *jwt.Claims, now time.Time) error {
	leeway := v.cfg.Leeway
	switch {
	case c.Expiry == nil:
		return newError(ErrMalformed, errors.New("token has no exp"))
	case now.After(c.Expiry.Time().Add(leeway)):
		return newError(ErrExpired, nil)
	case c.NotBefore != nil && now.Add(leeway).Before(c.NotBefore.Time()):
		return newError(ErrNotYetValid, errors.New("nbf is in the future"))
	case c.IssuedAt != nil && now.Add(leeway).Before(c.IssuedAt.Time()):
		return newError(ErrNotYetValid, errors.New("iat is in the future"))
	}
	return nil
}

// audienceAccepted reports whether aud names a configured audience (any
// aud when none is configured).
func (v *Validator) audienceAccepted(aud jwt.Audience) bool {
	return len(v.cfg.Audience) == 0 || slices.ContainsFunc(v.cfg.Audience, aud.Contains)
}

func (c *tokenClaims) session() *Session {
	s := &Session{
		UserID:    c.Subject,
		SessionID: c.SessionID,
		Username:  c.Username,
		Audience:  []string(c.Audience),
		Issuer:    c.Issuer,
		AMR:       c.AMR,
		ExpiresAt: c.Expiry.Time(),
	}
	if c.IssuedAt != nil {
		s.IssuedAt = c.IssuedAt.Time()
	}
	if c.Email != nil && c.Email.Address != "" {
		s.Email = &Email{Address: c.Email.Address, Verified: c.Email.IsVerified, Primary: c.Email.IsPrimary}
	}
	return s
}

// errTooBusy is the cause of the unavailability of a verification that
// waited too long for a slot.
var errTooBusy = constError("too many signature verifications under way")

// coldPause is how long, in multiples of its own duration, a verification
// keeps its slot while other verifications wait for one: under a flood,
// each slot then spends at most 1/(1+coldPause) of a CPU on signatures,
// and cached sessions keep the rest.
const coldPause = 3

// acquireCold takes a verification slot (see Config.MaxColdVerifications),
// waiting at most RequestTimeout, or until ctx (the shared work's, which
// Close ends) is done.
func (v *Validator) acquireCold(ctx context.Context) error {
	if v.cold == nil {
		return nil
	}
	select {
	case v.cold <- struct{}{}:
		return nil
	default:
	}
	v.coldWaiting.Add(1)
	defer v.coldWaiting.Add(-1)
	t := time.NewTimer(v.cfg.RequestTimeout)
	defer t.Stop()
	select {
	case v.cold <- struct{}{}:
		return nil
	case <-t.C:
		return newError(ErrUnavailable, errTooBusy)
	case <-ctx.Done():
		return newError(ErrUnavailable, ctx.Err())
	}
}

// releaseCold frees the slot of a verification that took d, after a pause
// of coldPause×d when other verifications are waiting.
func (v *Validator) releaseCold(d time.Duration) {
	if v.cold == nil {
		return
	}
	if v.coldWaiting.Load() > 0 {
		time.Sleep(coldPause * d)
	}
	<-v.cold
}
