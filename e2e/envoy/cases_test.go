package envoy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/hankoauth/hankoauth/hankotest"
)

var forgedIdentity = []string{
	"x-hanko-user-id: 00000000-0000-4000-8000-000000000000",
	"x-hanko-session-id: forged",
	"x-hanko-email: mallory@example.com",
}

// Case 1: the shipped configs pass envoy --mode validate as they are.
func TestShippedConfigsValidate(t *testing.T) {
	needEnvoy(t)
	t.Parallel()
	for _, f := range []string{grpcConfig, httpConfig} {
		t.Run(path.Base(f), func(t *testing.T) { validateConfig(t, readConfig(t, f)) })
	}
}

// Cases 2-6 and 9 on the shipped gRPC config.
func TestGRPCExtAuthz(t *testing.T) {
	needEnvoy(t)
	t.Parallel()
	s := startStack(t, config{file: grpcConfig})
	t.Run("allowed", func(t *testing.T) { testAllowed(t, s) })
	t.Run("denied", func(t *testing.T) { testDenied(t, s) })
	t.Run("public_paths", func(t *testing.T) { testPublicPaths(t, s) })
	t.Run("grpc", func(t *testing.T) { testGRPC(t, s, true) })
	t.Run("access_log", func(t *testing.T) { testAccessLog(t, s) })
	t.Run("failures", func(t *testing.T) { testFailures(t, s, true) })
}

// Case 7: cases 2-4 (and 5, 6) on the shipped HTTP (http_service) config.
func TestHTTPExtAuthz(t *testing.T) {
	needEnvoy(t)
	t.Parallel()
	s := startStack(t, config{file: httpConfig})
	t.Run("allowed", func(t *testing.T) { testAllowed(t, s) })
	t.Run("denied", func(t *testing.T) { testDenied(t, s) })
	t.Run("public_paths", func(t *testing.T) { testPublicPaths(t, s) })
	t.Run("grpc", func(t *testing.T) { testGRPC(t, s, false) })
	t.Run("failures", func(t *testing.T) { testFailures(t, s, false) })
}

// Case 8: the gRPC config with encode_raw_headers: true, so that Envoy
// sends header_map with raw values instead of headers.
func TestRawHeaders(t *testing.T) {
	needEnvoy(t)
	t.Parallel()
	s := startStack(t, config{file: grpcConfig, edit: func(c string) string {
		const at = "transport_api_version: V3\n"
		i := strings.Index(c, at)
		if i < 0 || strings.Count(c, at) != 1 {
			t.Fatalf("%s: no single %q to add encode_raw_headers after", grpcConfig, at)
		}
		indent := c[strings.LastIndex(c[:i], "\n")+1 : i]
		return c[:i+len(at)] + indent + "encode_raw_headers: true\n" + c[i+len(at):]
	}})
	t.Run("allowed", func(t *testing.T) { testAllowed(t, s) })
	t.Run("denied", func(t *testing.T) { testDenied(t, s) })
}

// Case 2, --strip-token: the upstream never sees the token.
func TestStripToken(t *testing.T) {
	needEnvoy(t)
	t.Parallel()
	for _, f := range []string{grpcConfig, httpConfig} {
		t.Run(path.Base(f), func(t *testing.T) {
			s := startStack(t, config{file: f, flags: []string{"--strip-token"}})
			m := s.hanko.mint(t)
			for _, h := range [][]string{
				{"authorization: Bearer " + m.Token},
				{"cookie: a=1; hanko=" + m.Token + "; b=2"},
				{"cookie: hanko=" + m.Token},
			} {
				a, id := s.envoy.get(t, "/api/orders", h...)
				if a.status != http.StatusOK {
					t.Fatalf("%s: status %d, want 200 (%s)", h[0][:6], a.status, a.body)
				}
				r, _ := s.up.byID(id)
				for k, vs := range r.Header {
					for _, v := range vs {
						if strings.Contains(v, m.Token) {
							t.Errorf("upstream got the token in %s", k)
						}
					}
				}
				if got := r.Header.Get("x-hanko-user-id"); got != m.UserID {
					t.Errorf("x-hanko-user-id = %q, want %q", got, m.UserID)
				}
				if strings.HasPrefix(h[0], "cookie: a=1") {
					if got := strings.Join(r.Header.Values("cookie"), "; "); got != "a=1; b=2" {
						t.Errorf("upstream cookie = %q, want the other cookies, a=1; b=2", got)
					}
				}
			}
		})
	}
}

// Case 3, a failed Requirement: 403 (HTTP) and PermissionDenied (gRPC).
func TestRequirement(t *testing.T) {
	needEnvoy(t)
	t.Parallel()
	for _, f := range []string{grpcConfig, httpConfig} {
		t.Run(path.Base(f), func(t *testing.T) {
			s := startRequirementStack(t, config{file: f})
			unverified := false
			m := s.hanko.MustMint(t, hankotest.Session{Email: "bob@example.com", EmailVerified: &unverified})
			a, id := s.envoy.get(t, "/api/orders", "authorization: Bearer "+m.Token)
			if a.status != http.StatusForbidden {
				t.Fatalf("status %d, want 403 (%s)", a.status, a.body)
			}
			wantBody(t, a, "permission_denied", "PERMISSION_DENIED")
			if _, ok := s.up.byID(id); ok {
				t.Error("the upstream got a denied request")
			}
			ok := s.hanko.mint(t)
			if a, _ := s.envoy.get(t, "/api/orders", "authorization: Bearer "+ok.Token); a.status != http.StatusOK {
				t.Errorf("verified email: status %d, want 200", a.status)
			}
			c := dial(t, s.envoy.addr)
			_, err := c.Check(bearer(t, m.Token), &healthpb.HealthCheckRequest{})
			// Over http_service the details are Envoy's (see testGRPC).
			wantStatus(t, err, codes.PermissionDenied, map[bool]string{true: "PERMISSION_DENIED"}[f == grpcConfig])
		})
	}
}

// testAllowed is case 2: sessions from a bearer token and from the cookie
// get in, with the identity headers hanko-authz vouches for, never the
// client's.
func testAllowed(t *testing.T, s *stack) {
	m := s.hanko.mint(t)
	for _, h := range []string{"authorization: Bearer " + m.Token, "cookie: hanko=" + m.Token} {
		a, id := s.envoy.get(t, "/api/orders?x=1", append([]string{h}, forgedIdentity...)...)
		if a.status != http.StatusOK {
			t.Fatalf("%s…: status %d, want 200 (%s)", h[:6], a.status, a.body)
		}
		r, ok := s.up.byID(id)
		if !ok {
			t.Fatal("the upstream did not get the request")
		}
		for k, want := range map[string]string{
			"x-hanko-user-id":    m.UserID,
			"x-hanko-session-id": m.SessionID,
			"x-hanko-email":      "alice@example.com",
		} {
			if got := r.Header.Values(k); len(got) != 1 || got[0] != want {
				t.Errorf("%s…: upstream %s = %q, want [%q]", h[:6], k, got, want)
			}
		}
		// Without --strip-token the token goes upstream too.
		if !strings.Contains(r.Header.Get("authorization")+r.Header.Get("cookie"), m.Token) {
			t.Errorf("%s…: the upstream did not get the token", h[:6])
		}
	}

	// A session without an email: a client-sent x-hanko-email must not
	// survive.
	noEmail := s.hanko.MustMint(t, hankotest.Session{})
	a, id := s.envoy.get(t, "/api/orders", append([]string{"authorization: Bearer " + noEmail.Token}, forgedIdentity...)...)
	if a.status != http.StatusOK {
		t.Fatalf("no email: status %d, want 200", a.status)
	}
	if r, _ := s.up.byID(id); r.Header.Get("x-hanko-email") != "" || r.Header.Get("x-hanko-user-id") != noEmail.UserID {
		t.Errorf("no email: upstream got x-hanko-email %q, x-hanko-user-id %q", r.Header.Get("x-hanko-email"), r.Header.Get("x-hanko-user-id"))
	}

	// Public routes: no x-hanko-* reaches the upstream, with or without a
	// session.
	for _, h := range [][]string{forgedIdentity, append([]string{"authorization: Bearer " + m.Token}, forgedIdentity...)} {
		for _, p := range []string{"/public/x", "/healthz"} {
			a, id := s.envoy.get(t, p, h...)
			if a.status != http.StatusOK {
				t.Fatalf("%s: status %d, want 200", p, a.status)
			}
			r, _ := s.up.byID(id)
			for k := range r.Header {
				if strings.HasPrefix(strings.ToLower(k), "x-hanko-") {
					t.Errorf("%s: the upstream got %s: %q", p, k, r.Header.Values(k))
				}
			}
		}
	}
}

// testDenied is case 3 (without the Requirement, see TestRequirement).
func testDenied(t *testing.T, s *stack) {
	forged := hankotest.NewServer()
	defer forged.Close()
	other := forged.MustMint(t, hankotest.Session{Email: "alice@example.com"})
	for _, c := range []struct {
		name, header, wwwAuth, reason string
	}{
		{"no token", "", `Bearer realm="hanko"`, "TOKEN_MISSING"},
		{"malformed", "authorization: Bearer not-a-jwt", `Bearer realm="hanko", error="invalid_token"`, "TOKEN_MALFORMED"},
		{"foreign key", "authorization: Bearer " + other.Token, `Bearer realm="hanko", error="invalid_token"`, "KEY_UNKNOWN"},
		{"cookie, malformed", "cookie: hanko=not-a-jwt", `Bearer realm="hanko", error="invalid_token"`, "TOKEN_MALFORMED"},
	} {
		var hs []string
		if c.header != "" {
			hs = append(hs, c.header)
		}
		a, id := s.envoy.get(t, "/api/orders", hs...)
		if a.status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401 (%s)", c.name, a.status, a.body)
			continue
		}
		if got := a.header.Get("www-authenticate"); got != c.wwwAuth {
			t.Errorf("%s: WWW-Authenticate %q, want %q", c.name, got, c.wwwAuth)
		}
		wantBody(t, a, "unauthenticated", c.reason)
		if _, ok := s.up.byID(id); ok {
			t.Errorf("%s: the upstream got a denied request", c.name)
		}
	}

	// Another unknown kid within the JWKS refresh limit (30s after the
	// "foreign key" fetch): hanko-authz cannot refetch, the kid may be a
	// key Hanko just rotated in, so the answer is "retry" (503), never
	// admitted.
	again := forged.MustMint(t, hankotest.Session{Email: "alice@example.com"})
	a, id := s.envoy.get(t, "/api/orders", "cookie: hanko="+again.Token)
	if a.status != http.StatusServiceUnavailable {
		t.Errorf("unknown kid, refresh rate-limited: status %d, want 503 (%s)", a.status, a.body)
	}
	if _, ok := s.up.byID(id); ok {
		t.Error("unknown kid, refresh rate-limited: the upstream got the request")
	}

	// Revocation: within --revalidate-after (1s) the session is out.
	m := s.hanko.mint(t)
	if a, _ := s.envoy.get(t, "/api/orders", "authorization: Bearer "+m.Token); a.status != http.StatusOK {
		t.Fatalf("before logout: status %d", a.status)
	}
	s.hanko.Revoke(m.SessionID)
	took := eventually(t, 5*time.Second, func() string {
		a, _ := s.envoy.get(t, "/api/orders", "authorization: Bearer "+m.Token)
		if a.status != http.StatusUnauthorized || !strings.Contains(a.header.Get("www-authenticate"), `error="invalid_token"`) {
			return fmt.Sprintf("revoked session: status %d, WWW-Authenticate %q", a.status, a.header.Get("www-authenticate"))
		}
		return ""
	})
	t.Logf("revoked session rejected %v after the logout (--revalidate-after 1s)", took.Round(time.Millisecond))
}

// wantBody checks a denial's JSON body.
func wantBody(t *testing.T, a answer, errWant, reason string) {
	t.Helper()
	if ct := a.header.Get("content-type"); ct != "application/json" {
		t.Errorf("content-type %q, want application/json (body %q)", ct, a.body)
	}
	var b struct{ Error, Reason string }
	if err := json.Unmarshal([]byte(a.body), &b); err != nil || b.Error != errWant || b.Reason != reason {
		t.Errorf("body %q, want ours: error %q, reason %q", a.body, errWant, reason)
	}
}

// testPublicPaths is case 5.
func testPublicPaths(t *testing.T, s *stack) {
	if a, id := s.envoy.get(t, "/public/x"); a.status != http.StatusOK {
		t.Fatalf("/public/x: status %d, want 200", a.status)
	} else if _, ok := s.up.byID(id); !ok {
		t.Fatal("/public/x did not reach the upstream")
	}
	for _, p := range []string{
		"/public/../api",
		"/public/%2e%2e/api",
		"/public/%2E%2E/api",
		"/public/.%2e/api",
		"//public/../api",
		"/public//../api",
		"/public%2F..%2Fapi",
		"/public%2f..%2fapi",
		"/public/..%2Fapi",
		"/public/%2e%2e%2fapi",
		"/public/..;/api",
		"/public/..;x=1/api",
		"/public/%2e%2e;/api",
		"/public/..%3B/api",
		"/public/..\\api",
		"/public/%5c..%5capi",
		"/public/%252e%252e/api",
		"/PUBLIC/../api",
		"/Public/x",
		"/PUBLIC/x",
		"/public/../API",
		"/public/./../api",
	} {
		id := newTestID()
		code := s.envoy.raw(t, "GET "+p+" HTTP/1.1\r\nHost: app\r\nX-Test-Id: "+id+"\r\nConnection: close\r\n\r\n")
		r, reached := s.up.byID(id)
		if !reached {
			continue
		}
		if resolved := lenientPath(r.Path); !strings.HasPrefix(resolved, "/public/") {
			t.Errorf("%s without a session: Envoy answered %d and the upstream got %q, which a lenient server resolves to %q", p, code, r.Path, resolved)
		}
	}
}

// lenientPath resolves p the way the most lenient application servers do:
// percent-decoding until nothing changes, backslashes as slashes, path
// parameters (";…") dropped from each segment, dot segments resolved,
// case folded.
func lenientPath(p string) string {
	for range 3 {
		d, err := url.PathUnescape(p)
		if err != nil || d == p {
			break
		}
		p = d
	}
	p = strings.ReplaceAll(p, "\\", "/")
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if j := strings.IndexByte(s, ';'); j >= 0 {
			segs[i] = s[:j]
		}
	}
	p = path.Clean("/" + strings.Join(segs, "/"))
	if p != "/" {
		p += "/"
	}
	return strings.ToLower(p)
}

// dial connects a gRPC client to addr.
func dial(t *testing.T, addr string) healthpb.HealthClient {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return healthpb.NewHealthClient(cc)
}

// bearer is a context carrying the token in "authorization" metadata, with
// a deadline.
func bearer(t *testing.T, token string) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	return ctx
}

// wantStatus checks a gRPC error: its code, and our ErrorInfo.
func wantStatus(t *testing.T, err error, code codes.Code, reason string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code {
		t.Errorf("gRPC status %v %q, want %v", st.Code(), st.Message(), code)
		return
	}
	if reason == "" {
		return
	}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			info = ei
		}
	}
	if info == nil || info.Domain != "hanko" || info.Reason != reason {
		t.Errorf("gRPC %v %q: ErrorInfo %v, want domain hanko, reason %s", st.Code(), st.Message(), info, reason)
	}
}

// testGRPC is case 6: a grpc-go client behind Envoy. With the gRPC check
// (grpcCheck) hanko-authz knows the request is gRPC and answers with our
// message and ErrorInfo; over http_service it does not see the content
// type (see envoy-http.yaml), so the client gets Envoy's translation of
// the 401: the right code, without our details.
func testGRPC(t *testing.T, s *stack, grpcCheck bool) {
	c := dial(t, s.envoy.addr)
	_, err := c.Check(bearer(t, ""), &healthpb.HealthCheckRequest{})
	if grpcCheck {
		wantStatus(t, err, codes.Unauthenticated, "TOKEN_MISSING")
		if st := status.Convert(err); st.Message() != "missing session token" {
			t.Errorf("message %q, want ours, %q", st.Message(), "missing session token")
		}
	} else {
		wantStatus(t, err, codes.Unauthenticated, "")
		t.Logf("no session, gRPC client over http_service: %v", err)
	}
	_, err = c.Check(bearer(t, "not-a-jwt"), &healthpb.HealthCheckRequest{})
	wantStatus(t, err, codes.Unauthenticated, map[bool]string{true: "TOKEN_MALFORMED"}[grpcCheck])

	m := s.hanko.mint(t)
	ctx := metadata.AppendToOutgoingContext(bearer(t, m.Token), "x-test-id", "grpc-"+m.SessionID, "x-hanko-user-id", "forged")
	resp, err := c.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check with a session: %v, %v", resp, err)
	}
	r, _ := s.up.byID("grpc-" + m.SessionID)
	if !r.GRPC || r.Header.Get("x-hanko-user-id") != m.UserID {
		t.Errorf("upstream got gRPC %v, x-hanko-user-id %q, want %q", r.GRPC, r.Header.Values("x-hanko-user-id"), m.UserID)
	}
	sctx, cancel := context.WithCancel(bearer(t, m.Token))
	defer cancel()
	w, err := c.Watch(sctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := w.Recv(); err != nil || msg.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch with a session: %v, %v", msg, err)
	}
	cancel()
	w, err = c.Watch(bearer(t, ""), &healthpb.HealthCheckRequest{})
	if err == nil {
		_, err = w.Recv()
	}
	wantStatus(t, err, codes.Unauthenticated, map[bool]string{true: "TOKEN_MISSING"}[grpcCheck])
}

// testAccessLog is case 9: the access log names the admitted user, from
// ext_authz's dynamic metadata.
func testAccessLog(t *testing.T, s *stack) {
	m := s.hanko.mint(t)
	p := "/api/log-" + m.SessionID
	if a, _ := s.envoy.get(t, p, "authorization: Bearer "+m.Token); a.status != http.StatusOK {
		t.Fatalf("status %d", a.status)
	}
	eventually(t, 5*time.Second, func() string {
		for _, line := range strings.Split(s.envoy.stdout.String(), "\n") {
			var l struct {
				Path        string `json:"path"`
				UserID      string `json:"user_id"`
				SessionID   string `json:"session_id"`
				AuthzReason string `json:"authz_reason"`
			}
			if json.Unmarshal([]byte(line), &l) != nil || l.Path != p {
				continue
			}
			if l.UserID != m.UserID || l.SessionID != m.SessionID || l.AuthzReason != "OK" {
				return fmt.Sprintf("access log line %s: want user_id %s, session_id %s, authz_reason OK", line, m.UserID, m.SessionID)
			}
			return ""
		}
		return "no access log line for " + p + " in:\n" + s.envoy.stdout.String()
	})
}

// testFailures is case 4. It stops and restarts hanko-authz and Hanko.
// With the gRPC check, Hanko's outage reaches the client as our 503 with
// retry-after; over http_service Envoy takes hanko-authz's 503 for an
// error of its own and answers status_on_error, a bare 503.
func testFailures(t *testing.T, s *stack, grpcCheck bool) {
	m := s.hanko.mint(t)
	c := dial(t, s.envoy.addr)
	ok := func() string {
		if a, _ := s.envoy.get(t, "/api/orders", "authorization: Bearer "+m.Token); a.status != http.StatusOK {
			return fmt.Sprintf("status %d, want 200", a.status)
		}
		return ""
	}
	if msg := ok(); msg != "" {
		t.Fatal(msg)
	}

	// hanko-authz frozen: Envoy's 0.5s timeout answers 503.
	s.authz.freeze(t)
	start := time.Now()
	a, _ := s.envoy.get(t, "/api/orders", "authorization: Bearer "+m.Token)
	took := time.Since(start)
	s.authz.thaw(t)
	if a.status != http.StatusServiceUnavailable {
		t.Errorf("hanko-authz frozen: status %d, want 503", a.status)
	}
	if took > 3*time.Second {
		t.Errorf("hanko-authz frozen: the 503 took %v; the timeout is 0.5s", took)
	}
	t.Logf("hanko-authz frozen: 503 after %v", took.Round(time.Millisecond))

	// hanko-authz stopped: 503 at once, and gRPC clients see Unavailable.
	s.authz.stop(t)
	start = time.Now()
	a, _ = s.envoy.get(t, "/api/orders", "authorization: Bearer "+m.Token)
	took = time.Since(start)
	if a.status != http.StatusServiceUnavailable {
		t.Errorf("hanko-authz stopped: status %d, want 503", a.status)
	}
	t.Logf("hanko-authz stopped: 503 after %v", took.Round(time.Millisecond))
	_, err := c.Check(bearer(t, m.Token), &healthpb.HealthCheckRequest{})
	wantStatus(t, err, codes.Unavailable, "")
	s.authz.start(t)
	took = eventually(t, 15*time.Second, ok)
	t.Logf("hanko-authz restarted: requests pass again after %v", took.Round(time.Millisecond))

	// Hanko stopped, a token hanko-authz has not seen: 503 with
	// retry-after; then Hanko comes back.
	fresh := s.hanko.mint(t)
	s.hanko.stop()
	a, _ = s.envoy.get(t, "/api/orders", "authorization: Bearer "+fresh.Token)
	switch {
	case a.status != http.StatusServiceUnavailable:
		t.Errorf("Hanko stopped: status %d, want 503 (body %q)", a.status, a.body)
	case grpcCheck && a.header.Get("retry-after") == "":
		t.Errorf("Hanko stopped: no retry-after (body %q)", a.body)
	case grpcCheck:
		wantBody(t, a, "unavailable", "HANKO_UNAVAILABLE")
	default:
		t.Logf("Hanko stopped, http_service: %d, retry-after %q, body %q", a.status, a.header.Get("retry-after"), a.body)
	}
	_, err = c.Check(bearer(t, fresh.Token), &healthpb.HealthCheckRequest{})
	wantStatus(t, err, codes.Unavailable, map[bool]string{true: "HANKO_UNAVAILABLE"}[grpcCheck])
	s.hanko.restart(t)
	eventually(t, 10*time.Second, func() string {
		if a, _ := s.envoy.get(t, "/api/orders", "authorization: Bearer "+fresh.Token); a.status != http.StatusOK {
			return fmt.Sprintf("Hanko back: status %d, want 200", a.status)
		}
		return ""
	})
}

// TestHTTPServiceContentTypeFailsOpen shows why envoy-http.yaml must not
// send content-type to hanko-authz: with "content-type: application/grpc"
// on the check request, Envoy answers its own failure to reach hanko-authz
// with a gRPC-style HTTP 200, the http_service client takes that for
// "allowed", and a gRPC request without a session reaches the upstream.
// If this test fails, Envoy no longer does that.
func TestHTTPServiceContentTypeFailsOpen(t *testing.T) {
	needEnvoy(t)
	t.Parallel()
	s := startStack(t, config{file: httpConfig, edit: func(c string) string {
		const at = "                          - exact: cookie\n                      failure_mode_allow: false\n"
		if strings.Count(c, at) != 1 {
			t.Fatalf("%s: no single allowed_headers list ending in cookie", httpConfig)
		}
		return strings.Replace(c, at, "                          - exact: cookie\n                          - exact: content-type\n                      failure_mode_allow: false\n", 1)
	}})
	s.authz.stop(t)
	ctx := metadata.AppendToOutgoingContext(bearer(t, ""), "x-test-id", "fails-open")
	_, err := dial(t, s.envoy.addr).Check(ctx, &healthpb.HealthCheckRequest{})
	if _, reached := s.up.byID("fails-open"); !reached || err != nil {
		t.Fatalf("with content-type sent to a stopped hanko-authz: %v, reached the upstream: %v; Envoy no longer fails open here", err, reached)
	}
}
