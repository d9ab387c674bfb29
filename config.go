package hankoauth

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"
)

// Mode says how the validator decides that a session is live.
type Mode int

const (
	// ModeHybrid (the default) verifies the token locally against Hanko's
	// JWKS, then confirms with Hanko's POST /sessions/validate that the
	// session row still exists, and trusts that answer for at most
	// RevalidateAfter. A revoked session gets in for at most that long.
	ModeHybrid Mode = iota
	// ModeLocal verifies tokens against the JWKS only. It never calls
	// /sessions/validate and is therefore blind to revocation: a session
	// ended by logout, an admin, the session limit or the idle timeout is
	// accepted until its token expires. Use it only where that is acceptable.
	ModeLocal
	// ModeRemote asks Hanko's POST /sessions/validate about tokens, after
	// cheap structural checks; Hanko is the only judge of the signature, and
	// no JWKS is fetched. Answers are cached like in hybrid mode: a live
	// session for at most RevalidateAfter (and never past its expiry or
	// idle expiry), a rejection for RevalidateAfter.
	ModeRemote
)

func (m Mode) String() string {
	switch m {
	case ModeHybrid:
		return "hybrid"
	case ModeLocal:
		return "local"
	case ModeRemote:
		return "remote"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses "hybrid", "local" or "remote".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "hybrid", "":
		return ModeHybrid, nil
	case "local":
		return ModeLocal, nil
	case "remote":
		return ModeRemote, nil
	}
	return 0, fmt.Errorf("hankoauth: unknown mode %q (want hybrid, local or remote)", s)
}

// Defaults of the Config fields.
const (
	DefaultRevalidateAfter = 15 * time.Second
	DefaultLeeway          = 30 * time.Second
	DefaultCacheSize       = 100_000
	DefaultRequestTimeout  = 5 * time.Second
	DefaultKeyRefreshMin   = 30 * time.Second
	// MaxTokenLength bounds the tokens the validator looks at. Hanko's
	// session tokens are about 1 KiB; a longer token is rejected as
	// malformed before any decoding.
	MaxTokenLength = 16 << 10
)

// Config configures a Validator. A zero field takes the default its
// comment names.
type Config struct {
	// APIURL is Hanko's public API base URL, such as
	// "https://<project>.hanko.io" or a self-hosted URL with a path prefix.
	// Required. The JWKS is read from APIURL + "/.well-known/jwks.json" and
	// sessions are confirmed at APIURL + "/sessions/validate".
	APIURL string
	// Mode is how sessions are checked. Default ModeHybrid.
	Mode Mode
	// Audience, when not empty, lists the accepted "aud" values: a token
	// must name at least one. Hanko's default audience is the WebAuthn
	// relying party id. Hanko itself does not check "aud".
	Audience []string
	// Issuer, when set, is the required "iss" (Hanko's session.issuer).
	Issuer string
	// Leeway is the clock skew allowed on "exp", "nbf" and "iat".
	// Default 30 s.
	Leeway time.Duration
	// RevalidateAfter bounds how long a result is cached: a confirmed
	// session is asked about again after it (so it is also the longest a
	// revoked session still gets in, in hybrid mode), and a locally
	// verified one is verified again. Default 15 s.
	RevalidateAfter time.Duration
	// CacheSize is the most tokens the cache holds. Default 100 000.
	// A negative value disables the cache (every call does the full work).
	CacheSize int
	// HTTPClient makes the calls to Hanko. Default:
	// NewHTTPClient(RequestTimeout, nil). The caller's context is honoured
	// either way. Its CheckRedirect is replaced: redirects from Hanko are
	// never followed (a redirect counts as Hanko being unavailable).
	HTTPClient *http.Client
	// RequestTimeout bounds one call to Hanko (JWKS or validate).
	// Default 5 s.
	RequestTimeout time.Duration
	// KeyRefreshMin is the shortest time between two JWKS fetches that
	// unknown key ids trigger, and the floor of the Cache-Control max-age
	// that schedules background refreshes. Default 30 s.
	KeyRefreshMin time.Duration
	// MaxColdVerifications bounds the signature verifications (RS256 with
	// Hanko's RSA-4096 key: about 0.4 ms of CPU each) running at once, so
	// that a flood of forged or new tokens cannot take the CPU from cached
	// sessions: further verifications wait, at most RequestTimeout, then
	// fail as unavailable; while some wait, each slot pauses three times
	// as long as its last verification took before it takes the next, so
	// that verifications get at most a quarter of a CPU per slot. Default
	// max(1, GOMAXPROCS/4); negative: no bound.
	MaxColdVerifications int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives the validator's own events (JWKS refreshes, Hanko
	// failures). Default: discard. Tokens are never logged.
	Logger *slog.Logger
	// Hooks, when set, observe the validator (for metrics).
	Hooks *Hooks
	// MaxRevocations bounds the revocations kept in force (see Revoke).
	// Default DefaultMaxRevocations.
	MaxRevocations int
	// SessionLifetime is the longest lifetime of Hanko's sessions
	// (session.lifespan): how long a user revocation is kept. Default
	// 12 h, Hanko's default.
	SessionLifetime time.Duration
	// Outage is what hybrid mode does with a token that verifies locally
	// when Hanko cannot be asked about its session. Default OutageDeny;
	// the other policies need ModeHybrid.
	Outage OutagePolicy
	// OutageGrace is how long after Hanko last confirmed a session it
	// keeps working under OutageStale. Default 10 min.
	OutageGrace time.Duration
}

// withDefaults checks cfg and fills in its defaults.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.APIURL == "" {
		return cfg, fmt.Errorf("hankoauth: Config.APIURL is required")
	}
	u, err := url.Parse(cfg.APIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, fmt.Errorf("hankoauth: Config.APIURL %q is not an http(s) URL", cfg.APIURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return cfg, fmt.Errorf("hankoauth: Config.APIURL must not carry a query, fragment or credentials")
	}
	cfg.APIURL = strings.TrimRight(u.String(), "/")
	switch cfg.Mode {
	case ModeHybrid, ModeLocal, ModeRemote:
	default:
		return cfg, fmt.Errorf("hankoauth: unknown Config.Mode %d", int(cfg.Mode))
	}
	switch cfg.Outage {
	case OutageDeny:
	case OutageStale, OutageLocal:
		if cfg.Mode != ModeHybrid {
			return cfg, fmt.Errorf("hankoauth: outage policy %s needs hybrid mode, not %s", cfg.Outage, cfg.Mode)
		}
	default:
		return cfg, fmt.Errorf("hankoauth: unknown Config.Outage %d", int(cfg.Outage))
	}
	if cfg.OutageGrace < 0 {
		return cfg, fmt.Errorf("hankoauth: durations in Config must not be negative")
	}
	if cfg.OutageGrace == 0 {
		cfg.OutageGrace = DefaultOutageGrace
	}
	if cfg.Leeway < 0 || cfg.RevalidateAfter < 0 || cfg.RequestTimeout < 0 || cfg.KeyRefreshMin < 0 {
		return cfg, fmt.Errorf("hankoauth: durations in Config must not be negative")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.RevalidateAfter == 0 {
		cfg.RevalidateAfter = DefaultRevalidateAfter
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.KeyRefreshMin == 0 {
		cfg.KeyRefreshMin = DefaultKeyRefreshMin
	}
	if cfg.MaxRevocations < 0 || cfg.SessionLifetime < 0 {
		return cfg, fmt.Errorf("hankoauth: MaxRevocations and SessionLifetime must not be negative")
	}
	if cfg.MaxRevocations == 0 {
		cfg.MaxRevocations = DefaultMaxRevocations
	}
	if cfg.SessionLifetime == 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	if cfg.MaxColdVerifications == 0 {
		cfg.MaxColdVerifications = max(1, runtime.GOMAXPROCS(0)/4)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = NewHTTPClient(cfg.RequestTimeout, nil)
	} else {
		// A copy that never follows redirects, whatever the caller's
		// client does: see refuseRedirect.
		c := *cfg.HTTPClient
		c.CheckRedirect = refuseRedirect
		cfg.HTTPClient = &c
	}
	if cfg.Hooks == nil {
		cfg.Hooks = &Hooks{}
	}
	return cfg, nil
}

// NewHTTPClient returns the client the validator uses by default: a
// timeout, keep-alive connections and enough idle connections per host for
// a busy validator. wrap, when not nil, wraps its transport (for metrics or
// tracing) so that Config.HTTPClient can be instrumented without losing
// these settings.
func NewHTTPClient(timeout time.Duration, wrap func(http.RoundTripper) http.RoundTripper) *http.Client {
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = 90 * time.Second
	t.ResponseHeaderTimeout = timeout
	var rt http.RoundTripper = t
	if wrap != nil {
		rt = wrap(t)
	}
	return &http.Client{Timeout: timeout, Transport: rt, CheckRedirect: refuseRedirect}
}

// refuseRedirect makes an http.Client return a redirect as the response
// instead of following it. The validator never follows Hanko's redirects:
// a 307/308 would send the token to whatever origin the redirect names
// and trust its answer, and a 301/302/303 would turn the POST into a
// token-less GET whose is_valid:false says nothing about the token. A
// redirect is an unavailable Hanko, logged with its Location.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
