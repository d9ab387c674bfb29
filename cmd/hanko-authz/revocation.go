package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/revstream"
	"github.com/hankoauth/hankoauth/webhook"
)

// revocationConfig holds the flags of instant revocation: Hanko's
// webhooks, and the Redis stream that passes them between replicas.
type revocationConfig struct {
	webhooks       pathFlag // the receiver's path; "" when off
	redisURL       string
	streamKey      string
	maxRevocations int
	maxLifetime    time.Duration
}

// addRevocationFlags registers the revocation flags.
func addRevocationFlags(fs *flag.FlagSet, c *revocationConfig) {
	c.webhooks.def = webhook.DefaultPath
	fs.Var(&c.webhooks, "webhooks", "receive Hanko's webhooks (session.delete.*, user.delete) and revoke at once; --webhooks serves them at "+webhook.DefaultPath+" of --http-addr, --webhooks=/other/path elsewhere")
	fs.StringVar(&c.redisURL, "revocation-redis", "", "Redis `URL` (redis:// or rediss://, with password and db) of the stream that passes revocations between replicas; needed for instant revocation with several replicas")
	fs.StringVar(&c.streamKey, "revocation-stream-key", revstream.DefaultKey, "`key` of the Redis stream")
	fs.IntVar(&c.maxRevocations, "max-revocations", hankoauth.DefaultMaxRevocations, "most revocations kept in force (about 55 bytes each); more are refused, loudly")
	fs.DurationVar(&c.maxLifetime, "max-session-lifetime", hankoauth.DefaultSessionLifetime, "the longest lifetime of Hanko's sessions (session.lifespan): how long user revocations and stream entries are kept")
}

// apply sets the validator's revocation settings.
func (c *revocationConfig) apply(hcfg *hankoauth.Config) error {
	if c.maxRevocations <= 0 {
		return usageErrorf("--max-revocations must be positive")
	}
	if c.maxLifetime <= 0 {
		return usageErrorf("--max-session-lifetime must be positive")
	}
	if c.webhooks.path != "" && hcfg.Mode == hankoauth.ModeRemote {
		return usageErrorf("--webhooks needs the JWKS to verify deliveries: use --mode hybrid or local")
	}
	hcfg.MaxRevocations = c.maxRevocations
	hcfg.SessionLifetime = c.maxLifetime
	return nil
}

// revocation is the server's instant revocation: the webhook receiver
// and the stream, each nil when off.
type revocation struct {
	stream  *revstream.Stream
	handler http.Handler
}

// setupRevocation builds the receiver and starts the stream. Redis is not
// dialled here: an unreachable Redis is reported, not fatal.
func (s *server) setupRevocation() error {
	c := s.cfg.revocation
	if c.redisURL != "" {
		st, err := revstream.Open(c.redisURL, s.v,
			revstream.WithKey(c.streamKey),
			revstream.WithRetention(c.maxLifetime+hankoauth.DefaultLeeway+time.Minute),
			revstream.WithLogger(s.log))
		if err != nil {
			return &usageError{msg: "--revocation-redis: " + err.Error()}
		}
		s.rev.stream = st
		if s.hooks.StreamCreated != nil {
			s.hooks.StreamCreated(st.Status)
		}
		st.Start()
	}
	if c.webhooks.path != "" {
		opts := []webhook.Option{webhook.WithLogger(s.log)}
		if s.rev.stream != nil {
			opts = append(opts, webhook.WithRevoker(s.rev.stream))
		}
		if s.hooks.Webhook != nil {
			opts = append(opts, webhook.WithObserver(s.hooks.Webhook))
		}
		s.rev.handler = webhook.NewHandler(s.v, opts...)
	}
	if s.rev.stream != nil || s.rev.handler != nil {
		s.log.Info("instant revocation",
			slog.String("webhooks", c.webhooks.path),
			slog.Bool("redis_stream", s.rev.stream != nil),
			slog.Int("max_revocations", c.maxRevocations))
	}
	return nil
}

// routeWebhooks serves the receiver on mux, when on.
func (s *server) routeWebhooks(mux *http.ServeMux) {
	if s.rev.handler != nil {
		mux.Handle(s.cfg.revocation.webhooks.path, s.rev.handler)
	}
}

// revocationReady reports whether the stream has replayed what it holds
// (or found Redis unreachable): until then a replica could accept a
// session that another one has revoked.
func (s *server) revocationReady() bool {
	if s.rev.stream == nil {
		return true
	}
	select {
	case <-s.rev.stream.Replayed():
		return true
	default:
		return false
	}
}

// waitRevocationReady waits until revocationReady, or until ctx ends
// (false).
func (s *server) waitRevocationReady(ctx context.Context) bool {
	if s.rev.stream == nil {
		return true
	}
	select {
	case <-s.rev.stream.Replayed():
		return true
	case <-ctx.Done():
		return false
	}
}

// revocationStatus is the line /readyz adds about the stream; "" without
// one. An unreachable Redis does not fail readiness: revalidation is the
// backstop.
func (s *server) revocationStatus() string {
	if s.rev.stream == nil {
		return ""
	}
	return s.rev.stream.Describe()
}

// closeRevocation stops the stream.
func (s *server) closeRevocation() {
	if s.rev.stream != nil {
		s.rev.stream.Close()
	}
}

// pathFlag is a flag that is off by default, on at def when given alone
// (--webhooks), and on at another path when given one (--webhooks=/p).
type pathFlag struct {
	def   string
	path  string
	given bool // set on the command line or in the environment
}

func (p *pathFlag) String() string { return p.path }

func (p *pathFlag) IsBoolFlag() bool { return true }

func (p *pathFlag) Set(v string) error {
	p.given = true
	if b, err := strconv.ParseBool(v); err == nil {
		p.path = ""
		if b {
			p.path = p.def
		}
		return nil
	}
	if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, " ?#") || v == "/" {
		return fmt.Errorf("want true, false or a path such as %s", p.def)
	}
	for _, reserved := range []string{"/authz", "/healthz", "/readyz", "/metrics"} {
		if v == reserved || strings.HasPrefix(v, reserved+"/") {
			return fmt.Errorf("%s is taken", reserved)
		}
	}
	p.path = v
	return nil
}

// revokeNote says what dev's revoke command does.
func revokeNote(webhooks string) string {
	if webhooks == "" {
		return "without --webhooks, WhoAmI says Unauthenticated after --revalidate-after"
	}
	return "the fake Hanko sends its webhook to " + webhooks + ", so WhoAmI says Unauthenticated at once"
}

// webhooksLine is dev's line about the webhook receiver.
func webhooksLine(webhooks string) string {
	if webhooks == "" {
		return "off (--webhooks=false): revocations are seen after --revalidate-after"
	}
	return webhooks + "  (the fake Hanko's webhooks: revocations take effect at once)"
}
