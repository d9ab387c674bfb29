package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/hankoauth/hankoauth"
	hankoauthv1 "github.com/hankoauth/hankoauth/gen/hankoauth/v1"
	"github.com/hankoauth/hankoauth/hankotest"
)

// runCLI runs the command in process and returns its exit status, stdout
// and stderr.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := &cli{
		stdin:  strings.NewReader(stdin),
		stdout: &out,
		stderr: &errOut,
		lookupEnv: func(k string) (string, bool) {
			if v, ok := env[k]; ok {
				return v, true
			}
			// Never the default ports on every interface: tests bind
			// free loopback ports, and may run beside a real dev.
			switch k {
			case "HANKO_AUTHZ_GRPC_ADDR", "HANKO_AUTHZ_HTTP_ADDR", "HANKO_AUTHZ_HANKO_ADDR":
				return "127.0.0.1:0", true
			}
			return "", false
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := c.main(ctx, args)
	return code, out.String(), errOut.String()
}

// Usage errors exit with 2 and one line on stderr, nothing on stdout.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no command", nil, nil, "Usage: hanko-authz <command>"},
		{"unknown command", nil, []string{"launch"}, `unknown command "launch"`},
		{"unknown flag", nil, []string{"serve", "--nope"}, "flag provided but not defined: -nope"},
		{"missing url", nil, []string{"serve"}, "--hanko-url (or HANKO_API_URL) is required"},
		{"bad url", nil, []string{"serve", "--hanko-url", "localhost:8000"}, "is not an http(s) URL"},
		{"bad mode", nil, []string{"serve", "--hanko-url", "http://h", "--mode", "fast"}, `invalid value "fast" for flag -mode`},
		{"bad env", map[string]string{"HANKO_AUTHZ_LOG_LEVEL": "loud"}, []string{"serve", "--hanko-url", "http://h"}, `invalid value "loud" for HANKO_AUTHZ_LOG_LEVEL`},
		{"bad public method", nil, []string{"serve", "--hanko-url", "http://h", "--public-methods", "/a/b/c"}, `public method "/a/b/c"`},
		{"bad public path", nil, []string{"serve", "--hanko-url", "http://h", "--public-paths", "public"}, `public path "public"`},
		{"bad claim header", nil, []string{"serve", "--hanko-url", "http://h", "--claim-header", "role"}, `--claim-header "role": want claim=header`},
		{"bad header name", nil, []string{"serve", "--hanko-url", "http://h", "--identity-header-user", "x user"}, "not a valid header name"},
		{"extra argument", nil, []string{"serve", "--hanko-url", "http://h", "now"}, `unexpected argument "now"`},
		{"dev has no hanko-url", nil, []string{"dev", "--hanko-url", "http://h"}, "flag provided but not defined: -hanko-url"},
		{"dev lifetime", nil, []string{"dev", "--session-lifetime", "-1s"}, "--session-lifetime must be positive"},
		{"validate without token", nil, []string{"validate", "--hanko-url", "http://h"}, "no token"},
		{"validate two tokens", nil, []string{"validate", "--hanko-url", "http://h", "a", "b"}, "want at most one token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.env, "", tc.args...)
			if code != exitUsage {
				t.Errorf("exit status %d, want %d", code, exitUsage)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr = %q, want it to contain %q", errOut, tc.want)
			}
			if len(tc.args) > 0 && strings.Count(errOut, "\n") != 1 {
				t.Errorf("stderr has %d lines, want 1: %q", strings.Count(errOut, "\n"), errOut)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"help"}, {"-h"}, {"serve", "-h"}, {"serve", "--help"}, {"dev", "-h"}, {"validate", "-h"}, {"help", "validate"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, "", args...)
			if code != 0 || errOut != "" || !strings.Contains(out, "Usage: hanko-authz") {
				t.Errorf("exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", code, out, errOut)
			}
		})
	}
	_, out, _ := runCLI(t, nil, "", "serve", "-h")
	for _, f := range []string{"--hanko-url", "--grpc-addr", "--http-addr", "--public-methods", "--claim-header", "--authz-failure-mode", "[HANKO_API_URL]", "[HANKO_AUTHZ_GRPC_ADDR]"} {
		if !strings.Contains(out, f) {
			t.Errorf("serve -h lacks %s", f)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, nil, "", "version")
	if code != 0 || !strings.HasPrefix(out, "hanko-authz ") || !strings.Contains(out, "go1.") {
		t.Errorf("version: exit %d, %q", code, out)
	}
	version = "v9.9.9"
	defer func() { version = "" }()
	if _, out, _ := runCLI(t, nil, "", "version"); !strings.HasPrefix(out, "hanko-authz v9.9.9") {
		t.Errorf("version with -X main.version: %q", out)
	}
}

func TestValidateCommand(t *testing.T) {
	h := hankotest.NewServer()
	defer h.Close()
	live := h.MustMint(t, hankotest.Session{Email: "alice@example.com"})
	revoked := h.MustMint(t, hankotest.Session{})
	h.Revoke(revoked.SessionID)
	env := map[string]string{"HANKO_API_URL": h.URL}

	code, out, errOut := runCLI(t, env, "", "validate", live.Token)
	if code != 0 || !strings.Contains(out, `"userId": "`+live.UserID+`"`) || !strings.Contains(out, "alice@example.com") {
		t.Errorf("valid token: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, env, "  "+live.Token+"\n", "validate")
	if code != 0 || !strings.Contains(out, live.SessionID) {
		t.Errorf("token on stdin: exit %d, stdout %q", code, out)
	}
	code, out, errOut = runCLI(t, env, "", "validate", revoked.Token)
	if code != 1 || out != "" || !strings.Contains(errOut, "SESSION_REVOKED") {
		t.Errorf("revoked token: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = runCLI(t, env, "", "validate", "--mode", "local", "garbage")
	if code != 1 || !strings.Contains(errOut, "TOKEN_MALFORMED") {
		t.Errorf("garbage: exit %d, stderr %q", code, errOut)
	}
	// A refused connection fails at once with its cause, long before the
	// timeout; the exit status says "unreachable", not "usage".
	code, _, errOut = runCLI(t, nil, "", "validate", "--hanko-url", "http://"+closedAddr(t), "--timeout", "1m", live.Token)
	if code != exitUnavailable || !strings.Contains(errOut, "HANKO_UNAVAILABLE") || !strings.Contains(errOut, "refused") ||
		strings.Contains(errOut, "did not answer") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("Hanko refuses: exit %d, stderr %q", code, errOut)
	}
	if strings.Contains(errOut, live.Token) {
		t.Error("stderr contains the token")
	}
	// A Hanko that does not answer: the timeout.
	h.Fail(hankotest.EndpointJWKS, hankotest.Failure{Delay: time.Minute})
	code, _, errOut = runCLI(t, env, "", "validate", "--timeout", "300ms", live.Token)
	if code != exitUnavailable || !strings.Contains(errOut, "did not answer within 300ms") {
		t.Errorf("Hanko silent: exit %d, stderr %q", code, errOut)
	}
	h.ClearFailures()
	// Usage errors have their own status.
	if code, _, _ := runCLI(t, env, "", "validate", "--timeout", "0s", live.Token); code != exitUsage {
		t.Errorf("--timeout 0s: exit %d, want %d", code, exitUsage)
	}
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// syncBuffer is a concurrency-safe log buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServer runs a server in process on free ports, with hooks, against
// a fake Hanko whose first JWKS request fails: it starts not ready, gets
// ready, serves, and stops when its context ends.
func TestServer(t *testing.T) {
	h := hankotest.NewServer()
	defer h.Close()
	h.Fail(hankotest.EndpointJWKS, hankotest.Failure{Status: 500, Times: 1})
	m := h.MustMint(t, hankotest.Session{Email: "alice@example.com"})

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg serveConfig
	addServeFlags(fs, &cfg, true, "")
	if err := parseArgs(fs, []string{"--hanko-url", h.URL, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-level", "debug"}, noEnv); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	var mu sync.Mutex
	var decisions []hankoauth.Decision
	hk := hooks{
		Decision: func(_ context.Context, d hankoauth.Decision) {
			mu.Lock()
			defer mu.Unlock()
			decisions = append(decisions, d)
		},
		HTTPRoutes: func(mux *http.ServeMux) {
			mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "metrics\n") })
		},
	}
	srv, err := newServer(cfg, cfg.logger(&logs), hk)
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
	base := "http://" + srv.httpLis.Addr().String()

	conn, err := grpc.NewClient(srv.grpcLis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()

	// Not ready while no JWKS is loaded; ready after the retry.
	if code := httpGet(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before the JWKS: %d, want 503", code)
	}
	if code := httpGet(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d, want 200", code)
	}
	hr, err := health.Check(rctx, &healthpb.HealthCheckRequest{})
	if err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health before the JWKS: %v, %v; want NOT_SERVING", hr, err)
	}
	watch, err := health.Watch(rctx, &healthpb.HealthCheckRequest{Service: "hankoauth.v1.SessionService"})
	if err != nil {
		t.Fatal(err)
	}
	for {
		hr, err := watch.Recv()
		if err != nil {
			t.Fatalf("health watch: %v", err)
		}
		if hr.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			break
		}
	}
	if code := httpGet(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz when ready: %d, want 200", code)
	}
	if code := httpGet(t, base+"/metrics"); code != http.StatusOK {
		t.Errorf("/metrics from the hook: %d, want 200", code)
	}

	// The session service is guarded, ext_authz's Check is not.
	sessions := hankoauthv1.NewSessionServiceClient(conn)
	_, err = sessions.WhoAmI(rctx, &hankoauthv1.WhoAmIRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("WhoAmI without a token: %v, want Unauthenticated", err)
	}
	who, err := sessions.WhoAmI(metadata.AppendToOutgoingContext(rctx, "authorization", "Bearer "+m.Token), &hankoauthv1.WhoAmIRequest{})
	if err != nil || who.GetSession().GetUserId() != m.UserID {
		t.Errorf("WhoAmI: %v, %v", who, err)
	}
	check := func(headers map[string]string) int32 {
		t.Helper()
		resp, err := authv3.NewAuthorizationClient(conn).Check(rctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/api", Headers: headers}},
		}})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		return resp.GetStatus().GetCode()
	}
	if got := check(map[string]string{"authorization": "Bearer " + m.Token}); got != int32(codes.OK) {
		t.Errorf("Check with the token: status %d, want OK", got)
	}
	if got := check(nil); got != int32(codes.Unauthenticated) {
		t.Errorf("Check without a token: status %d, want Unauthenticated", got)
	}
	req, _ := http.NewRequest("GET", base+"/authz/api/orders", nil)
	req.Header.Set("Cookie", "hanko="+m.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("x-hanko-user-id") != m.UserID {
		t.Errorf("HTTP ext_authz: %d %v", resp.StatusCode, resp.Header)
	}

	mu.Lock()
	edges := map[string]bool{}
	for _, d := range decisions {
		edges[d.Edge] = true
	}
	mu.Unlock()
	if !edges["interceptor"] || !edges["extauthz"] || !edges["http"] {
		t.Errorf("decision hook saw edges %v, want interceptor, extauthz and http", edges)
	}

	// Stopping: serve returns nil, the listeners close.
	cancel()
	select {
	case err := <-served:
		served <- err
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return after its context ended")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("HTTP server still answers after stopping")
	}
	if strings.Contains(logs.String(), m.Token) {
		t.Error("the log contains a token")
	}
	for _, want := range []string{"hanko-authz serving", "hanko-authz ready", "hanko-authz stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// An address in use is an error naming the flag, before anything serves.
func TestServerAddressInUse(t *testing.T) {
	h := hankotest.NewServer()
	defer h.Close()
	busy := strings.TrimPrefix(h.URL, "http://")
	code, _, errOut := runCLI(t, nil, "", "serve", "--hanko-url", h.URL, "--grpc-addr", "127.0.0.1:0", "--http-addr", busy)
	if code != exitFailure || !strings.Contains(errOut, "--http-addr: listen tcp "+busy) || strings.Count(errOut, "\n") != 1 {
		t.Errorf("exit %d, stderr %q; want 1 and one line naming --http-addr", code, errOut)
	}
}

func noEnv(string) (string, bool) { return "", false }

func httpGet(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The server with the real observability hooks serves Prometheus metrics
// that count its calls.
func TestObservability(t *testing.T) {
	h := hankotest.NewServer()
	defer h.Close()
	m := h.MustMint(t, hankotest.Session{})
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	hk, err := observability(context.Background(), log)
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg serveConfig
	addServeFlags(fs, &cfg, true, "")
	if err := parseArgs(fs, []string{"--hanko-url", h.URL, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, noEnv); err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(cfg, log, hk)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.serve(ctx) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-srv.firstReady:
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	conn, err := grpc.NewClient(srv.grpcLis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+m.Token)
	if _, err := hankoauthv1.NewSessionServiceClient(conn).WhoAmI(rctx, &hankoauthv1.WhoAmIRequest{}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + srv.httpLis.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`hankoauth_decisions_total{edge="interceptor",reason="OK",result="allow"} 1`,
		`grpc_server_handled_total{grpc_code="OK",grpc_method="WhoAmI",grpc_service="hankoauth.v1.SessionService",grpc_type="unary"} 1`,
		`hankoauth_jwks_keys 1`,
		`hankoauth_hanko_requests_total{outcome="valid"} 1`,
		"go_goroutines",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
