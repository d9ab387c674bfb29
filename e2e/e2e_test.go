package e2e

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// mint creates a session through the fake Hanko's POST /dev/sessions.
func (d *devServer) mint(t *testing.T, email string) (token, sessionID string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email})
	resp, err := http.Post("http://"+d.hankoAddr+"/dev/sessions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		SessionToken string `json:"session_token"`
		SessionID    string `json:"session_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /dev/sessions: %d, %v", resp.StatusCode, err)
	}
	return m.SessionToken, m.SessionID
}

// revoke ends a session through DELETE /dev/sessions/{id}.
func (d *devServer) revoke(t *testing.T, sessionID string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, "http://"+d.hankoAddr+"/dev/sessions/"+sessionID, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE /dev/sessions/%s: %d", sessionID, resp.StatusCode)
	}
}

// whoAmI calls WhoAmI with grpcurl and the given headers.
func (d *devServer) whoAmI(t *testing.T, headers ...string) result {
	t.Helper()
	var args []string
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	return grpcurl(t, append(args, d.grpcAddr, "hankoauth.v1.SessionService/WhoAmI")...)
}

// checkRequest is the JSON of an ext_authz CheckRequest for GET /api/orders
// with the given headers.
func checkRequest(t *testing.T, headers map[string]string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"attributes": map[string]any{"request": map[string]any{
		"http": map[string]any{"method": "GET", "path": "/api/orders", "headers": headers},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDev(t *testing.T) {
	skipShort(t)
	d := startDev(t, "--revalidate-after", "1s")

	t.Run("printed commands", func(t *testing.T) {
		out := d.stdout.String()
		for _, want := range []string{
			`go tool -modfile=tools/go.mod grpcurl -plaintext -H "authorization: Bearer $TOKEN" ` + d.grpcAddr + ` hankoauth.v1.SessionService/WhoAmI`,
			`-H "cookie: hanko=$TOKEN"`,
			d.grpcAddr + " list",
			"hankoauth.v1.SessionService/WatchSession",
			"curl -s -X POST http://" + d.hankoAddr + "/dev/sessions",
			"curl -i -X DELETE http://" + d.hankoAddr + "/dev/sessions/$SESSION_ID",
			"envoy.service.auth.v3.Authorization/Check",
			"curl -i -H \"authorization: Bearer $TOKEN\" http://" + d.httpAddr + "/authz/",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("dev output lacks %q", want)
			}
		}
	})

	t.Run("list", func(t *testing.T) {
		r := grpcurl(t, d.grpcAddr, "list")
		for _, svc := range []string{"hankoauth.v1.SessionService", "envoy.service.auth.v3.Authorization", "grpc.health.v1.Health"} {
			if r.code != 0 || !strings.Contains(r.stdout, svc+"\n") {
				t.Errorf("list: exit %d, stdout %q, stderr %q; want %s", r.code, r.stdout, r.stderr, svc)
			}
		}
	})

	t.Run("health", func(t *testing.T) {
		r := grpcurl(t, d.grpcAddr, "grpc.health.v1.Health/Check")
		if r.code != 0 || !strings.Contains(r.stdout, `"SERVING"`) {
			t.Errorf("health: exit %d, %q %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("WhoAmI bearer", func(t *testing.T) {
		r := d.whoAmI(t, "authorization: Bearer "+d.token)
		if r.code != 0 || !strings.Contains(r.stdout, `"userId": "`+d.userID+`"`) || !strings.Contains(r.stdout, "demo@example.com") {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("WhoAmI cookie", func(t *testing.T) {
		r := d.whoAmI(t, "cookie: theme=dark; hanko="+d.token)
		if r.code != 0 || !strings.Contains(r.stdout, `"userId": "`+d.userID+`"`) {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("WhoAmI without token", func(t *testing.T) {
		r := d.whoAmI(t)
		if r.code == 0 || !strings.Contains(r.stderr, "Code: Unauthenticated") || !strings.Contains(r.stderr, "TOKEN_MISSING") {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("WhoAmI revoked", func(t *testing.T) {
		token, sid := d.mint(t, "bob@example.com")
		if r := d.whoAmI(t, "authorization: Bearer "+token); r.code != 0 {
			t.Fatalf("fresh session: exit %d, %q", r.code, r.stderr)
		}
		d.revoke(t, sid)
		time.Sleep(1200 * time.Millisecond) // past --revalidate-after
		r := d.whoAmI(t, "authorization: Bearer "+token)
		if r.code == 0 || !strings.Contains(r.stderr, "Code: Unauthenticated") || !strings.Contains(r.stderr, "SESSION_REVOKED") {
			t.Errorf("revoked session: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("ext_authz Check", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			headers map[string]string
			code    int
		}{
			{"with token", map[string]string{"authorization": "Bearer " + d.token}, 0},
			{"without token", map[string]string{}, 16},
		} {
			r := grpcurl(t, "-d", checkRequest(t, tc.headers), d.grpcAddr, "envoy.service.auth.v3.Authorization/Check")
			var resp struct {
				Status struct {
					Code int `json:"code"`
				} `json:"status"`
				OkResponse *struct {
					Headers []struct {
						Header struct{ Key, Value string } `json:"header"`
					} `json:"headers"`
				} `json:"okResponse"`
			}
			if r.code != 0 {
				t.Fatalf("%s: exit %d, stderr %q", tc.name, r.code, r.stderr)
			}
			if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil {
				t.Fatalf("%s: %v in %q", tc.name, err, r.stdout)
			}
			if resp.Status.Code != tc.code {
				t.Errorf("%s: status code %d, want %d: %s", tc.name, resp.Status.Code, tc.code, r.stdout)
			}
			if tc.code == 0 && (resp.OkResponse == nil || !strings.Contains(r.stdout, d.userID)) {
				t.Errorf("%s: no identity headers in %s", tc.name, r.stdout)
			}
		}
	})

	t.Run("HTTP", func(t *testing.T) {
		get := func(path string, header ...string) *http.Response {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, "http://"+d.httpAddr+path, nil)
			for i := 0; i+1 < len(header); i += 2 {
				req.Header.Set(header[i], header[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}
		if r := get("/healthz"); r.StatusCode != 200 {
			t.Errorf("/healthz: %d", r.StatusCode)
		}
		if r := get("/readyz"); r.StatusCode != 200 {
			t.Errorf("/readyz: %d", r.StatusCode)
		}
		if r := get("/authz/api/orders", "Authorization", "Bearer "+d.token); r.StatusCode != 200 || r.Header.Get("X-Hanko-User-Id") != d.userID {
			t.Errorf("ext_authz with token: %d %v", r.StatusCode, r.Header)
		}
		if r := get("/authz/api/orders", "Cookie", "hanko="+d.token); r.StatusCode != 200 {
			t.Errorf("ext_authz with cookie: %d", r.StatusCode)
		}
		if r := get("/authz/api/orders"); r.StatusCode != 401 {
			t.Errorf("ext_authz without token: %d, want 401", r.StatusCode)
		}
		if r := get("/metrics"); r.StatusCode != 200 {
			t.Errorf("/metrics: %d", r.StatusCode)
		}
	})

	t.Run("validate", func(t *testing.T) {
		env := cleanEnv("HANKO_API_URL=http://" + d.hankoAddr)
		r := run(t, env, "", hankoAuthz, "validate", d.token)
		if r.code != 0 || !strings.Contains(r.stdout, `"userId": "`+d.userID+`"`) {
			t.Errorf("valid: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		r = run(t, env, d.token+"\n", hankoAuthz, "validate")
		if r.code != 0 || !json.Valid([]byte(r.stdout)) {
			t.Errorf("valid on stdin: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		token, sid := d.mint(t, "carol@example.com")
		d.revoke(t, sid)
		r = run(t, env, "", hankoAuthz, "validate", token)
		if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "SESSION_REVOKED") {
			t.Errorf("revoked: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		r = run(t, cleanEnv(), "", hankoAuthz, "validate", "--hanko-url", "http://"+freeAddr(t), "--timeout", "500ms", d.token)
		if r.code != 3 || !strings.Contains(r.stderr, "HANKO_UNAVAILABLE") {
			t.Errorf("Hanko down: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
}

// A WatchSession stream ends when its session expires: a final EXPIRED
// update, then Unauthenticated.
func TestWatchSessionExpires(t *testing.T) {
	skipShort(t)
	d := startDev(t, "--session-lifetime", "3s")
	token, _ := d.mint(t, "dave@example.com")
	start := time.Now()
	r := grpcurl(t, "-H", "authorization: Bearer "+token, "-d", `{"interval":"1s"}`, d.grpcAddr, "hankoauth.v1.SessionService/WatchSession")
	elapsed := time.Since(start)
	if r.code == 0 || !strings.Contains(r.stderr, "Code: Unauthenticated") || !strings.Contains(r.stderr, "SESSION_EXPIRED") {
		t.Errorf("exit %d, stderr %q; want Unauthenticated SESSION_EXPIRED", r.code, r.stderr)
	}
	active := strings.Count(r.stdout, "SESSION_STATE_ACTIVE")
	if active < 1 || !strings.Contains(r.stdout, "SESSION_STATE_EXPIRED") {
		t.Errorf("%d ACTIVE updates, want some and a final EXPIRED one:\n%s", active, r.stdout)
	}
	if elapsed > 6*time.Second {
		t.Errorf("the stream lasted %v for a 3s session", elapsed)
	}
}

// SIGTERM stops dev promptly with status 0, ending an open stream with
// Unavailable rather than waiting for it.
func TestSIGTERM(t *testing.T) {
	skipShort(t)
	d := startDev(t)
	done := make(chan result, 1)
	go func() {
		done <- grpcurl(t, "-H", "authorization: Bearer "+d.token, "-d", `{"interval":"1s"}`, d.grpcAddr, "hankoauth.v1.SessionService/WatchSession")
	}()
	// Wait for the first update.
	time.Sleep(1500 * time.Millisecond)
	if elapsed := d.stop(t); elapsed > 5*time.Second {
		t.Errorf("exiting took %v after SIGTERM", elapsed)
	}
	select {
	case r := <-done:
		if !strings.Contains(r.stdout, "SESSION_STATE_ACTIVE") || !strings.Contains(r.stderr, "Code: Unavailable") {
			t.Errorf("open stream at SIGTERM: exit %d, stdout %q, stderr %q; want updates, then Unavailable", r.code, r.stdout, r.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Error("the stream did not end with the server")
	}
	if log := d.stderr.String(); !strings.Contains(log, "hanko-authz stopped") {
		t.Errorf("log lacks the stop:\n%s", log)
	}
}

// Usage errors and a port in use give one line on stderr, never a stack
// trace.
func TestErrors(t *testing.T) {
	skipShort(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad flag", []string{"serve", "--bogus"}, 2, "flag provided but not defined"},
		{"bad url", []string{"serve", "--hanko-url", "hanko.example.com"}, 2, "is not an http(s) URL"},
		{"grpc port in use", []string{"serve", "--hanko-url", "http://" + freeAddr(t), "--grpc-addr", busy.Addr().String()}, 1, "--grpc-addr: listen tcp " + busy.Addr().String()},
		{"hanko port in use", []string{"dev", "--hanko-addr", busy.Addr().String()}, 1, "--hanko-addr: listen tcp"},
		{"unknown command", []string{"launch"}, 2, `unknown command "launch"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, cleanEnv(), "", hankoAuthz, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and one line with %q", r.code, r.stdout, r.stderr, tc.code, tc.want)
			}
		})
	}
}
