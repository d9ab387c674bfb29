package hankotest

import (
	"errors"
	"strings"
	"time"
)

// Option configures a fake Hanko created by [New] or [NewServer].
type Option func(*options)

type options struct {
	lifetime   time.Duration
	idle       time.Duration
	audience   []string
	issuer     string
	cookieName string
	now        func() time.Time
	keyBits    int
	jwksMaxAge time.Duration
	pathPrefix string
}

func defaultOptions() options {
	return options{
		lifetime:   12 * time.Hour,
		audience:   []string{"localhost"},
		cookieName: "hanko",
		now:        time.Now,
		keyBits:    2048,
		jwksMaxAge: 600 * time.Second,
	}
}

func (o *options) check() error {
	switch {
	case o.lifetime <= 0:
		return errors.New("hankotest: session lifetime must be positive")
	case o.idle < 0:
		return errors.New("hankotest: idle timeout must not be negative")
	case len(o.audience) == 0:
		return errors.New("hankotest: at least one audience is required")
	case o.cookieName == "":
		return errors.New("hankotest: cookie name must not be empty")
	case o.now == nil:
		return errors.New("hankotest: clock must not be nil")
	case o.keyBits < 2048:
		return errors.New("hankotest: RSA keys need at least 2048 bits")
	case o.jwksMaxAge < 0:
		return errors.New("hankotest: JWKS max-age must not be negative")
	case o.pathPrefix != "" && (!strings.HasPrefix(o.pathPrefix, "/") || strings.HasSuffix(o.pathPrefix, "/")):
		return errors.New("hankotest: path prefix must start and must not end with /")
	}
	return nil
}

// WithSessionLifetime sets the lifetime of minted sessions (exp - iat).
// The default is 12h, Hanko's default session.lifespan.
func WithSessionLifetime(d time.Duration) Option {
	return func(o *options) { o.lifetime = d }
}

// WithIdleTimeout sets Hanko's session.idle_timeout. The default, 0, means
// no idle timeout. When set, a session not refreshed by a POST
// /sessions/validate for longer than d is deleted on its next validation,
// and valid answers carry idle_expires_at. See also [Hanko.SetIdleTimeout].
func WithIdleTimeout(d time.Duration) Option {
	return func(o *options) { o.idle = d }
}

// WithAudience sets the aud claim of minted tokens. The default is
// ["localhost"], the WebAuthn relying party id of a local Hanko.
func WithAudience(aud ...string) Option {
	return func(o *options) { o.audience = append([]string(nil), aud...) }
}

// WithIssuer sets the iss claim of minted tokens, like Hanko's
// session.issuer. By default tokens carry no iss claim.
func WithIssuer(iss string) Option {
	return func(o *options) { o.issuer = iss }
}

// WithCookieName sets the session cookie name read by GET
// /sessions/validate, like Hanko's session.cookie.name. The default is
// "hanko".
func WithCookieName(name string) Option {
	return func(o *options) { o.cookieName = name }
}

// WithClock sets the clock used for iat and exp of minted tokens, for the
// exp/iat/nbf checks of validation and for the idle timer. The default is
// [time.Now].
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithKeyBits sets the size of the generated RSA signing keys. The default
// is 2048 bits to keep tests fast; real Hanko uses 4096. Sizes below 2048
// are rejected.
func WithKeyBits(bits int) Option {
	return func(o *options) { o.keyBits = bits }
}

// WithJWKSMaxAge sets the Cache-Control max-age of the JWKS response. The
// default is 600s, as Hanko sends.
func WithJWKSMaxAge(d time.Duration) Option {
	return func(o *options) { o.jwksMaxAge = d }
}

// WithPathPrefix serves the endpoints under prefix (such as "/hanko" or
// "/tenants/acme"), like a self-hosted Hanko behind a proxy path: every
// other path gets 404. [NewServer]'s URL includes the prefix; the bare
// host is the classic wrong --hanko-url. The default is no prefix.
func WithPathPrefix(prefix string) Option {
	return func(o *options) { o.pathPrefix = prefix }
}
