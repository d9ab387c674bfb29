package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hankoauth/hankoauth/hankotest"
	"github.com/hankoauth/hankoauth/internal/redistest"
)

// authz asks the HTTP ext_authz handler about token and returns the
// status.
func authz(t *testing.T, base, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/authz/api/orders", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeRevocation: serve with --webhooks and --revocation-redis
// applies a signed delivery at once, and /readyz reports the stream.
func TestServeRevocation(t *testing.T) {
	rds := redistest.Start(t)
	h := hankotest.NewServer()
	defer h.Close()
	m := h.MustMint(t, hankotest.Session{})

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg serveConfig
	addServeFlags(fs, &cfg, true, "")
	err := parseArgs(fs, []string{"--hanko-url", h.URL, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--revalidate-after", "1h", "--webhooks", "--revocation-redis", rds.URL}, noEnv)
	if err != nil {
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
	base := "http://" + srv.httpLis.Addr().String()
	select {
	case <-srv.firstReady:
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "revocation stream: following hankoauth:revocations") {
		t.Fatalf("/readyz: %d %q", resp.StatusCode, body)
	}
	if code := authz(t, base, m.Token); code != http.StatusOK {
		t.Fatalf("live session: %d", code)
	}

	// A delivery shaped like Hanko's, signed with its key.
	now := time.Now()
	token, err := h.Sign(map[string]any{
		"sub": "hanko webhooks", "evt": "session.delete.explicit.logout", "aud": []string{"localhost"},
		"iat": now.Unix(), "exp": now.Add(300 * time.Second).Unix(),
		"data": map[string]any{"id": m.SessionID, "user_id": m.UserID, "expires_at": m.ExpiresAt},
	})
	if err != nil {
		t.Fatal(err)
	}
	delivery, _ := json.Marshal(map[string]string{"token": token, "event": "session.delete.explicit.logout"})
	resp, err = http.Post(base+"/webhooks/hanko", "application/json", strings.NewReader(string(delivery)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delivery: %d", resp.StatusCode)
	}
	if code := authz(t, base, m.Token); code != http.StatusUnauthorized {
		t.Fatalf("revoked session: %d, want 401 at once", code)
	}
	// The session token itself is no webhook.
	bad, _ := json.Marshal(map[string]string{"token": m.Token, "event": "session.delete.explicit.logout"})
	resp, err = http.Post(base+"/webhooks/hanko", "application/json", strings.NewReader(string(bad)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("session token as a webhook: %d", resp.StatusCode)
	}
	if strings.Contains(logs.String(), m.Token) || strings.Contains(logs.String(), token) {
		t.Fatal("a token was logged")
	}
}

// TestDevWebhooks: dev wires the fake Hanko's webhooks to its own
// receiver: a revoked session is rejected at once, with --revalidate-after
// far away.
func TestDevWebhooks(t *testing.T) {
	var out, errOut syncBuffer
	c := &cli{
		stdin: strings.NewReader(""), stdout: &out, stderr: &errOut,
		lookupEnv: func(k string) (string, bool) {
			switch k {
			case "HANKO_AUTHZ_GRPC_ADDR", "HANKO_AUTHZ_HTTP_ADDR", "HANKO_AUTHZ_HANKO_ADDR":
				return "127.0.0.1:0", true
			}
			return "", false
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- c.main(ctx, []string{"dev", "--revalidate-after", "1h"}) }()
	defer func() {
		cancel()
		<-done
	}()
	re := regexp.MustCompile(`(?s)fake Hanko\s+(http://\S+).*HTTP\s+(http://\S+).*webhooks\s+(http://\S+).*export TOKEN=(\S+)\nexport SESSION_ID=(\S+)`)
	var mm []string
	for deadline := time.Now().Add(15 * time.Second); mm == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("dev did not print its session; stdout %q, stderr %q", out.String(), errOut.String())
		}
		mm = re.FindStringSubmatch(out.String())
	}
	hankoURL, base, token, sid := mm[1], mm[2], mm[4], mm[5]
	if !strings.HasSuffix(mm[3], "/webhooks/hanko") {
		t.Errorf("webhooks line: %q", mm[3])
	}
	if code := authz(t, base, token); code != http.StatusOK {
		t.Fatalf("demo session: %d", code)
	}
	req, _ := http.NewRequest(http.MethodDelete, hankoURL+"/dev/sessions/"+sid, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for deadline := time.Now().Add(5 * time.Second); authz(t, base, token) != http.StatusUnauthorized; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the revoked session still gets in: the webhook did not arrive")
		}
	}
}

func TestWebhooksFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		path string
		bad  bool
	}{
		{nil, nil, "", false},
		{[]string{"--webhooks"}, nil, "/webhooks/hanko", false},
		{[]string{"--webhooks=/hooks/hanko"}, nil, "/hooks/hanko", false},
		{[]string{"--webhooks=false"}, nil, "", false},
		{nil, map[string]string{"HANKO_AUTHZ_WEBHOOKS": "true"}, "/webhooks/hanko", false},
		{nil, map[string]string{"HANKO_AUTHZ_WEBHOOKS": "/h"}, "/h", false},
		{[]string{"--webhooks=hooks"}, nil, "", true},
		{[]string{"--webhooks=/authz/hook"}, nil, "", true},
		{[]string{"--webhooks=/metrics"}, nil, "", true},
		{[]string{"--webhooks=/"}, nil, "", true},
	} {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		var cfg serveConfig
		addServeFlags(fs, &cfg, true, "")
		err := parseArgs(fs, tc.args, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
		if (err != nil) != tc.bad || cfg.revocation.webhooks.path != tc.path {
			t.Errorf("%v %v: path %q, error %v", tc.args, tc.env, cfg.revocation.webhooks.path, err)
		}
	}
}

func TestRevocationUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--hanko-url", "http://127.0.0.1:1", "--webhooks", "--mode", "remote"}, "--webhooks needs the JWKS"},
		{[]string{"serve", "--hanko-url", "http://127.0.0.1:1", "--max-revocations", "0"}, "--max-revocations must be positive"},
		{[]string{"serve", "--hanko-url", "http://127.0.0.1:1", "--revocation-redis", "mysql://x"}, "--revocation-redis"},
	} {
		code, out, errOut := runCLI(t, nil, "", tc.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", tc.args, code, out, errOut)
		}
	}
}
