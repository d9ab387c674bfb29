package hankotest

import (
	"crypto/rsa"
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
	key        *rsa.PrivateKey // the first signing key, when given
	freshKeys  bool            // generate this Hanko's own keys
	jwksMaxAge time.Duration

	webhooks     []webhookSub // see webhooks.go
	sessionLimit int
	pathPrefix   string
}

func defaultOptions() options {
	return options{
		lifetime:   12 * time.Hour,
		audience:   []string{"localhost"},
		cookieName: "hanko",
		now:        time.Now,
		keyBits:    DefaultKeyBits,
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
	case o.key != nil && o.key.N.BitLen() < 2048:
		return errors.New("hankotest: the signing key needs at least 2048 bits")
	case o.jwksMaxAge < 0:
		return errors.New("hankotest: JWKS max-age must not be negative")
	case o.pathPrefix != "" && (!strings.HasPrefix(o.pathPrefix, "/") || strings.HasSuffix(o.pathPrefix, "/")):
		return errors.New("hankotest: path prefix must start and must not end with /")
	case o.sessionLimit < 0:
		return errors.New("hankotest: session limit must not be negative")
	}
	for _, w := range o.webhooks {
		if err := webhookURL(w.url); err != nil {
			return err
		}
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

// WithKeyBits sets the size of the RSA signing keys. The default is
// DefaultKeyBits, 4096 bits, as real Hanko uses; 2048 makes a test's
// cold verifications faster (and the first key of a process quicker to
// generate). Sizes below 2048 are rejected.
//
// Keys are generated once per process and size and shared by every fake
// Hanko of the process (see [WithFreshKeys]): a Hanko's first key is the
// first of the process, RotateKey gives it the next one. Kids are never
// shared: each Hanko names its keys with fresh UUIDs.
func WithKeyBits(bits int) Option {
	return func(o *options) { o.keyBits = bits }
}

// WithSigningKey makes key the fake's first signing key (its kid is still
// a fresh UUID); keys added by RotateKey come from the process's shared
// keys (or fresh ones, with WithFreshKeys). Keys below 2048 bits are
// rejected.
func WithSigningKey(key *rsa.PrivateKey) Option {
	return func(o *options) { o.key = key }
}

// WithFreshKeys makes the fake generate keys of its own instead of
// sharing the process's: for a test that needs two fakes whose keys
// differ (a token of another deployment, say). Each key costs a
// generation.
func WithFreshKeys() Option {
	return func(o *options) { o.freshKeys = true }
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
