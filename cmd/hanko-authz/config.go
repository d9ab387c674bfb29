package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/extauthz"
	"github.com/hankoauth/hankoauth/tracing"
)

// validatorConfig holds the flags that configure the validator, shared by
// serve, dev and validate.
type validatorConfig struct {
	hankoURL        string
	mode            *choiceValue
	audience        listValue
	issuer          string
	cookieName      string
	revalidateAfter time.Duration
	cacheSize       int
	logLevel        *choiceValue
	logFormat       *choiceValue
	hankoCAFile     string // tls.go
}

// addValidatorFlags registers the validator and log flags; withURL says
// whether --hanko-url is one of them (dev runs its own Hanko).
func addValidatorFlags(fs *flag.FlagSet, c *validatorConfig, withURL bool, logLevel string) {
	if withURL {
		fs.StringVar(&c.hankoURL, "hanko-url", "", "Hanko's public API `URL` (required), such as https://<project>.hanko.io")
		fs.StringVar(&c.hankoCAFile, "hanko-ca-file", "", "PEM `file` of the CAs that https to Hanko trusts, instead of the system's")
	}
	c.mode = newChoice("hybrid", "hybrid", "local", "remote")
	fs.Var(c.mode, "mode", "how sessions are checked: `hybrid` (JWKS, then Hanko confirms, cached), local (JWKS only, blind to revocation) or remote (Hanko only)")
	fs.Var(&c.audience, "audience", "accepted token audiences, comma-separated (`list`); empty accepts any")
	fs.StringVar(&c.issuer, "issuer", "", "required token issuer (Hanko's session.issuer); empty accepts any")
	fs.StringVar(&c.cookieName, "cookie-name", hankoauth.DefaultCookieName, "Hanko's session cookie `name`")
	fs.DurationVar(&c.revalidateAfter, "revalidate-after", hankoauth.DefaultRevalidateAfter, "how long a session check is cached: the longest a revoked session still gets in")
	fs.IntVar(&c.cacheSize, "cache-size", hankoauth.DefaultCacheSize, "most tokens cached; negative disables the cache")
	c.logLevel = newChoice(logLevel, "debug", "info", "warn", "error")
	fs.Var(c.logLevel, "log-level", "log `level`: debug, info, warn or error")
	c.logFormat = newChoice("text", "text", "json")
	fs.Var(c.logFormat, "log-format", "log `format` on stderr: text or json")
}

// hankoConfig is the validator configuration of c.
func (c *validatorConfig) hankoConfig(log *slog.Logger) (hankoauth.Config, error) {
	if c.hankoURL == "" {
		return hankoauth.Config{}, usageErrorf("--hanko-url (or HANKO_API_URL) is required")
	}
	mode, err := hankoauth.ParseMode(c.mode.value)
	if err != nil {
		return hankoauth.Config{}, usageErrorf("%v", err)
	}
	if c.revalidateAfter < 0 {
		return hankoauth.Config{}, usageErrorf("--revalidate-after must not be negative")
	}
	client, err := c.hankoHTTPClient(nil)
	if err != nil {
		return hankoauth.Config{}, err
	}
	return hankoauth.Config{
		APIURL:          c.hankoURL,
		HTTPClient:      client,
		Mode:            mode,
		Audience:        c.audience,
		Issuer:          c.issuer,
		RevalidateAfter: c.revalidateAfter,
		CacheSize:       c.cacheSize,
		Logger:          log,
	}, nil
}

// logger returns the logger the log flags describe, writing to w.
func (c *validatorConfig) logger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.logLevel.value)) // one of the choices
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if c.logFormat.value == "json" {
		opts.ReplaceAttr = durationString
		h = slog.NewJSONHandler(w, opts)
	}
	// Lines logged within a traced call carry its trace_id.
	return slog.New(tracing.LogHandler(h))
}

// durationString makes the JSON logs print a duration as the text form
// that the flags take ("10m0s"), as the text logs do, not as a count of
// nanoseconds.
func durationString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// serveConfig is the configuration of serve (and of the server dev runs).
type serveConfig struct {
	validatorConfig
	grpcAddr        string
	httpAddr        string
	publicMethods   listValue
	shutdownTimeout time.Duration
	outage          *choiceValue
	outageGrace     time.Duration
	pprofAddr       string
	denialLogRate   float64

	// ext_authz
	userHeader    string
	sessionHeader string
	emailHeader   string
	claimHeaders  listValue // claim=header
	publicPaths   listValue
	stripToken    bool
	failureMode   *choiceValue

	limitsConfig                  // limits.go
	tlsConfig                     // tls.go
	revocation   revocationConfig // revocation.go
}

// addServeFlags registers the flags of serve, with the listen addresses
// defaulting to host (":" for all interfaces).
func addServeFlags(fs *flag.FlagSet, c *serveConfig, withURL bool, host string) {
	addValidatorFlags(fs, &c.validatorConfig, withURL, "info")
	fs.StringVar(&c.grpcAddr, "grpc-addr", host+":9001", "gRPC listen `address`: SessionService, health, reflection and Envoy's ext_authz Authorization")
	fs.StringVar(&c.httpAddr, "http-addr", host+":9002", "HTTP listen `address`: /healthz, /readyz and the HTTP ext_authz handler under /authz/")
	fs.Var(&c.publicMethods, "public-methods", "gRPC methods or services that need no session, comma-separated (`list`; \"/pkg.Service/Method\" or \"pkg.Service\"); health, reflection and ext_authz always are")
	fs.Float64Var(&c.denialLogRate, "denial-log-rate", 20, "most per-request log lines (denials) per second; the lines over it are counted and the count logged; 0: no limit")
	fs.StringVar(&c.pprofAddr, "pprof-addr", "", "serve Go's runtime profiles (/debug/pprof/) on this loopback `address`; off when empty")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a graceful stop waits for calls in flight (open streams end at once with Unavailable)")
	c.outage = newChoice("deny", "deny", "stale", "local")
	fs.Var(c.outage, "hanko-outage", "hybrid mode while Hanko cannot be asked: `deny` (fail closed), stale (sessions Hanko confirmed within --hanko-outage-grace keep working; new ones fail closed) or local (every token that verifies locally passes: blind to revocation)")
	fs.DurationVar(&c.outageGrace, "hanko-outage-grace", hankoauth.DefaultOutageGrace, "--hanko-outage stale: how long after Hanko last confirmed a session it keeps working")
	fs.StringVar(&c.userHeader, "identity-header-user", extauthz.DefaultUserIDHeader, "ext_authz: `header` carrying the user id upstream")
	fs.StringVar(&c.sessionHeader, "identity-header-session", extauthz.DefaultSessionIDHeader, "ext_authz: `header` carrying the session id upstream")
	fs.StringVar(&c.emailHeader, "identity-header-email", extauthz.DefaultEmailHeader, "ext_authz: `header` carrying the email address upstream")
	fs.Var(&c.claimHeaders, "claim-header", "ext_authz: send a custom claim upstream as `claim=header`; repeatable or comma-separated")
	fs.Var(&c.publicPaths, "public-paths", "ext_authz: HTTP paths that need no session, comma-separated (`list`; \"/healthz\", \"/public/\", \"/static*\")")
	fs.BoolVar(&c.stripToken, "strip-token", false, "ext_authz: remove the session token from allowed requests before they go upstream")
	c.failureMode = newChoice("deny", "deny", "error")
	addRevocationFlags(fs, &c.revocation)
	fs.Var(c.failureMode, "authz-failure-mode", "ext_authz when Hanko is unreachable: `deny` (answer 503 UNAVAILABLE) or error (fail the Check call, so Envoy's failure_mode_allow decides)")
	addLimitsFlags(fs, &c.limitsConfig)
	addTLSFlags(fs, &c.tlsConfig)
}

// outageConfig sets the outage policy of c on hcfg.
func (c *serveConfig) outageConfig(hcfg *hankoauth.Config) error {
	p, err := hankoauth.ParseOutagePolicy(c.outage.value)
	if err != nil {
		return usageErrorf("%v", err)
	}
	if c.outageGrace <= 0 {
		return usageErrorf("--hanko-outage-grace must be positive")
	}
	if p != hankoauth.OutageDeny && hcfg.Mode != hankoauth.ModeHybrid {
		return usageErrorf("--hanko-outage %s needs --mode hybrid", p)
	}
	hcfg.Outage, hcfg.OutageGrace = p, c.outageGrace
	return nil
}

// extauthzOptions are the ext_authz options of c.
func (c *serveConfig) extauthzOptions() ([]extauthz.Option, error) {
	opts := []extauthz.Option{
		extauthz.WithCookieName(c.cookieName),
		extauthz.WithIdentityHeaders(c.userHeader, c.sessionHeader, c.emailHeader),
		extauthz.WithStripToken(c.stripToken),
	}
	if c.failureMode.value == "error" {
		opts = append(opts, extauthz.WithFailureMode(extauthz.ReturnError))
	}
	for _, ch := range c.claimHeaders {
		claim, header, ok := strings.Cut(ch, "=")
		claim, header = strings.TrimSpace(claim), strings.TrimSpace(header)
		if !ok || claim == "" || header == "" {
			return nil, usageErrorf("--claim-header %q: want claim=header", ch)
		}
		opts = append(opts, extauthz.WithClaimHeader(claim, header))
	}
	if len(c.publicPaths) > 0 {
		opts = append(opts, extauthz.WithPublicPaths(c.publicPaths...))
	}
	return opts, nil
}

// usageError is a configuration error: the command exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}
