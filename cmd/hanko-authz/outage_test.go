package main

import (
	"context"
	"flag"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	hankoauthv1 "github.com/hankoauth/hankoauth/gen/hankoauth/v1"
	"github.com/hankoauth/hankoauth/hankotest"
)

// serve --hanko-outage stale through a Hanko outage: the confirmed session
// keeps working, a new one is Unavailable, /readyz stays 200 and says it
// is degraded, until Hanko answers again.
func TestServeOutageStale(t *testing.T) {
	h := hankotest.NewServer()
	defer h.Close()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg serveConfig
	addServeFlags(fs, &cfg, true, "")
	if err := parseArgs(fs, []string{"--hanko-url", h.URL, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--hanko-outage", "stale", "--cache-size", "-1"}, noEnv); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	srv, err := newServer(cfg, cfg.logger(&logs), hooks{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.serve(ctx) }()
	defer func() {
		cancel()
		<-served
	}()
	select {
	case <-srv.firstReady:
	case <-t.Context().Done():
		t.Fatal("not ready")
	}
	conn, err := grpc.NewClient(srv.grpcLis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sessions := hankoauthv1.NewSessionServiceClient(conn)
	whoAmI := func(tok string) codes.Code {
		_, err := sessions.WhoAmI(metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok), &hankoauthv1.WhoAmIRequest{})
		return status.Code(err)
	}
	readyz := func() (int, string) {
		resp, err := http.Get("http://" + srv.httpLis.Addr().String() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	known := h.MustMint(t, hankotest.Session{})
	if c := whoAmI(known.Token); c != codes.OK {
		t.Fatalf("before the outage: %v", c)
	}
	h.Fail(hankotest.EndpointValidate, hankotest.Failure{Status: 503})
	fresh := h.MustMint(t, hankotest.Session{})
	if c := whoAmI(known.Token); c != codes.OK {
		t.Errorf("confirmed session in the outage: %v, want OK", c)
	}
	if c := whoAmI(fresh.Token); c != codes.Unavailable {
		t.Errorf("new session in the outage: %v, want Unavailable", c)
	}
	if code, body := readyz(); code != 200 || !strings.Contains(body, "degraded: hanko unreachable since") || !strings.Contains(body, "--hanko-outage stale") {
		t.Errorf("/readyz in the outage: %d %q", code, body)
	}
	h.ClearFailures()
	if c := whoAmI(fresh.Token); c != codes.OK {
		t.Errorf("after the outage: %v", c)
	}
	if code, body := readyz(); code != 200 || body != "ok\n" {
		t.Errorf("/readyz after the outage: %d %q", code, body)
	}
	if n := strings.Count(logs.String(), "session decided by the outage policy"); n != 2 {
		t.Errorf("%d outage decisions logged, want 2 (one per session):\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), known.Token) {
		t.Error("a token in the log")
	}
}

func TestServeOutageFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--hanko-outage", "open"}, `invalid value "open" for flag -hanko-outage`},
		{[]string{"--hanko-outage", "stale", "--mode", "local"}, "--hanko-outage stale needs --mode hybrid"},
		{[]string{"--hanko-outage", "local", "--mode", "remote"}, "--hanko-outage local needs --mode hybrid"},
		{[]string{"--hanko-outage-grace", "0s"}, "--hanko-outage-grace must be positive"},
	} {
		code, _, errOut := runCLI(t, nil, "", append([]string{"serve", "--hanko-url", "http://h"}, tc.args...)...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errOut)
		}
	}
}
