package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/hankoauth/hankoauth/hankotest"
)

const devDescription = `Dev runs everything on one machine with nothing else installed: a fake
Hanko (the hankotest package) on --hanko-addr, and serve against it on
127.0.0.1. It mints a session for a demo user, waits until the server is
ready, and prints the token and commands to try. It runs until interrupted.

It takes every flag of serve except --hanko-url (the fake Hanko is the
Hanko); the listen addresses default to 127.0.0.1. The fake Hanko also
mints sessions on POST /dev/sessions and revokes them on
DELETE /dev/sessions/{id}. Never use it in production: anyone who can
reach it can mint sessions.`

func (c *cli) dev(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	var cfg serveConfig
	addServeFlags(fs, &cfg, false, "127.0.0.1")
	hankoAddr := fs.String("hanko-addr", "127.0.0.1:8000", "listen `address` of the fake Hanko")
	lifetime := fs.Duration("session-lifetime", 12*time.Hour, "lifetime of the sessions the fake Hanko mints (Hanko's session.lifespan)")
	email := fs.String("email", "demo@example.com", "email `address` of the demo user")
	if code, done := c.parse(fs, args, "hanko-authz dev [flags]", devDescription); done {
		return code
	}
	if fs.NArg() > 0 {
		return c.fail("dev", usageErrorf("unexpected argument %q", fs.Arg(0)))
	}
	if *lifetime <= 0 {
		return c.fail("dev", usageErrorf("--session-lifetime must be positive"))
	}
	log := cfg.logger(c.stderr)
	if !cfg.revocation.webhooks.given {
		cfg.revocation.webhooks.path = cfg.revocation.webhooks.def // the fake Hanko's webhooks revoke at once
	}
	cfg.revocation.maxLifetime = max(cfg.revocation.maxLifetime, *lifetime)

	// Listen first: an address in use fails before the fake generates its
	// RSA-4096 key.
	lis, err := net.Listen("tcp", *hankoAddr)
	if err != nil {
		return c.fail("dev", fmt.Errorf("--hanko-addr: %w", err))
	}
	hankoURL := "http://" + lis.Addr().String()
	cfg.hankoURL = hankoURL
	h, err := observability(ctx, log)
	if err != nil {
		lis.Close()
		return c.fail("dev", err)
	}
	// The fake's RSA-4096 signing key is made once per process and shared
	// by every fake: make it now, before the server's first JWKS fetch
	// starts waiting for the fake.
	if _, err := hankotest.New(hankotest.WithSessionLifetime(*lifetime)); err != nil {
		lis.Close()
		return c.fail("dev", err)
	}
	// The server first, for the address of its webhook receiver; its
	// first JWKS fetch waits in the fake Hanko's listen queue meanwhile.
	srv, err := newServer(cfg, log, h)
	if err != nil {
		lis.Close()
		return c.fail("dev", err)
	}
	hopts := []hankotest.Option{hankotest.WithSessionLifetime(*lifetime), hankotest.WithCookieName(cfg.cookieName)}
	webhooks := ""
	if p := cfg.revocation.webhooks.path; p != "" {
		webhooks = "http://" + srv.httpLis.Addr().String() + p
		hopts = append(hopts, hankotest.WithWebhook(webhooks, "session", "user.delete"))
	}
	hanko, err := hankotest.New(hopts...)
	if err != nil {
		lis.Close()
		srv.close()
		return c.fail("dev", err)
	}
	hankoSrv := cfg.limitsConfig.httpServer(hanko.Handler(), log) // the same read and idle bounds
	go hankoSrv.Serve(lis)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hankoSrv.Shutdown(sctx)
	}()
	log.Info("fake Hanko serving", slog.String("url", hankoURL), slog.Duration("session_lifetime", *lifetime), slog.String("webhooks_to", webhooks))

	served := make(chan error, 1)
	go func() { served <- srv.serve(ctx) }()

	if err := waitReady(ctx, srv, served); err != nil {
		if errors.Is(err, context.Canceled) {
			return exitOK
		}
		return c.fail("dev", err)
	}
	m, err := hanko.Mint(hankotest.Session{Email: *email, AMR: []string{"passkey"}})
	if err != nil {
		return c.fail("dev", err)
	}
	printDev(c.stdout, devInfo{
		hankoURL: hankoURL,
		grpcAddr: srv.grpcLis.Addr().String(),
		httpAddr: srv.httpLis.Addr().String(),
		cookie:   cfg.cookieName,
		email:    *email,
		minted:   m,
		webhooks: webhooks,
	})
	if err := <-served; err != nil {
		return c.fail("dev", err)
	}
	return exitOK
}

// waitReady waits until srv is ready (its health status SERVING), for at
// most 10 s, or until it fails or ctx ends.
func waitReady(ctx context.Context, srv *server, served <-chan error) error {
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case <-srv.firstReady:
			return nil
		case err := <-served:
			if err == nil {
				return context.Canceled
			}
			return err
		case <-ctx.Done():
			// serve stops by itself: wait for it.
			<-served
			return context.Canceled
		case <-deadline.C:
			return fmt.Errorf("the server did not get ready within 10s: %v", srv.v.Ready())
		}
	}
}

// devInfo is what dev prints.
type devInfo struct {
	hankoURL, grpcAddr, httpAddr, cookie, email string
	minted                                      hankotest.Minted
	webhooks                                    string // the receiver the fake Hanko calls; "" when off
}

// grpcurl is how the printed commands run grpcurl: as a Go tool of this
// module, so that nothing needs to be installed.
const grpcurl = "go tool -modfile=tools/go.mod grpcurl"

// printDev prints the demo session and the commands to try. The lines
// "export TOKEN=", "export SESSION_ID=" and "export USER_ID=" are stable:
// tests and scripts read them.
func printDev(w io.Writer, d devInfo) {
	m := d.minted
	fmt.Fprintf(w, `
hanko-authz dev is running:
  fake Hanko        %[1]s  (not for production: it mints sessions for anyone)
  gRPC              %[2]s  (SessionService, health, reflection, Envoy ext_authz)
  HTTP              http://%[3]s  (/healthz, /readyz, /metrics, ext_authz under /authz/)
  webhooks          %[12]s

Demo session of %[4]s, valid until %[5]s:

export TOKEN=%[6]s
export SESSION_ID=%[7]s
export USER_ID=%[8]s

Paste the three export lines into a shell, then try the commands below. They
run grpcurl as "%[9]s", from the root of the hankoauth repository,
so nothing needs to be installed (the first run builds it); any grpcurl works too.

# Who am I, with the token as a bearer token, then in Hanko's cookie:
%[9]s -plaintext -H "authorization: Bearer $TOKEN" %[2]s hankoauth.v1.SessionService/WhoAmI
%[9]s -plaintext -H "cookie: %[10]s=$TOKEN" %[2]s hankoauth.v1.SessionService/WhoAmI

# Without a token: Unauthenticated
%[9]s -plaintext %[2]s hankoauth.v1.SessionService/WhoAmI

# List the services; check health
%[9]s -plaintext %[2]s list
%[9]s -plaintext %[2]s grpc.health.v1.Health/Check

# Watch the session (an update every 2 s, until it expires or is revoked):
%[9]s -plaintext -H "authorization: Bearer $TOKEN" -d '{"interval":"2s"}' %[2]s hankoauth.v1.SessionService/WatchSession

# Validate another token:
%[9]s -plaintext -H "authorization: Bearer $TOKEN" -d '{"session_token":"'"$TOKEN"'"}' %[2]s hankoauth.v1.SessionService/ValidateSession

# Mint another session (prints session_token, user_id, session_id), and revoke one
# (%[11]s):
curl -s -X POST %[1]s/dev/sessions -H 'content-type: application/json' -d '{"email":"bob@example.com"}'
curl -i -X DELETE %[1]s/dev/sessions/$SESSION_ID

# Envoy ext_authz over gRPC: status code 0 (OK) with the token, 16 (UNAUTHENTICATED) without
%[9]s -plaintext -d '{"attributes":{"request":{"http":{"method":"GET","path":"/api/orders","headers":{"authorization":"Bearer '"$TOKEN"'"}}}}}' %[2]s envoy.service.auth.v3.Authorization/Check
%[9]s -plaintext -d '{"attributes":{"request":{"http":{"method":"GET","path":"/api/orders"}}}}' %[2]s envoy.service.auth.v3.Authorization/Check

# ext_authz over HTTP: 200 with x-hanko-* identity headers, 401 without a token
curl -i -H "authorization: Bearer $TOKEN" http://%[3]s/authz/api/orders
curl -i http://%[3]s/authz/api/orders

# Readiness, liveness and metrics
curl -i http://%[3]s/readyz
curl -i http://%[3]s/healthz
curl -s http://%[3]s/metrics | grep '^hankoauth_'

Press Ctrl-C to stop.
`, d.hankoURL, d.grpcAddr, d.httpAddr, d.email, m.ExpiresAt.Format(time.RFC3339),
		m.Token, m.SessionID, m.UserID, grpcurl, d.cookie, revokeNote(d.webhooks), webhooksLine(d.webhooks))
}
