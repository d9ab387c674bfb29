package main

import (
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hankoauth/hankoauth/hankotest"
)

// runDoctor runs doctor with --output json and returns its exit status
// and report.
func runDoctor(t *testing.T, stdin string, args ...string) (int, doctorReport) {
	t.Helper()
	code, out, errOut := runCLI(t, nil, stdin, append([]string{"doctor", "--output", "json"}, args...)...)
	var rep doctorReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("exit %d, stdout %q, stderr %q: %v", code, out, errOut, err)
	}
	if rep.OK != (code == exitOK) {
		t.Errorf("ok %v with exit status %d", rep.OK, code)
	}
	return code, rep
}

// status returns the status of the first finding of check, "" if none.
func (r doctorReport) status(check string) finding {
	for _, f := range r.Findings {
		if f.Check == check {
			return f
		}
	}
	return finding{}
}

// wantStatus checks the statuses of findings: check -> status.
func wantStatus(t *testing.T, rep doctorReport, want map[string]string) {
	t.Helper()
	for check, st := range want {
		if f := rep.status(check); f.Status != st {
			t.Errorf("%s: got %+v, want status %s", check, f, st)
		}
	}
}

func TestDoctorHealthy(t *testing.T) {
	srv := hankotest.NewServer(hankotest.WithIssuer("https://auth.example.com"))
	defer srv.Close()
	m := srv.MustMint(t, hankotest.Session{Email: "a@example.com", AMR: []string{"passkey"}})

	code, out, errOut := runCLI(t, nil, "", "doctor", "--hanko-url", srv.URL, "--token", m.Token, "--calls", "3")
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	for _, want := range []string{"✓ jwks ", "✓ validate ", "✓ token.signature ", "✓ token.hanko ", "All checks passed.",
		"Recommended flags for serve: --audience localhost --issuer https://auth.example.com", "amr [passkey]", "p95"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	sig := m.Token[strings.LastIndex(m.Token, ".")+1:]
	// The token from stdin, and JSON output: still never the token.
	_, rep := runDoctor(t, m.Token+"\n", "--hanko-url", srv.URL, "--audience", "localhost", "--issuer", "https://auth.example.com")
	raw, _ := json.Marshal(rep)
	for _, o := range []string{out, string(raw)} {
		if strings.Contains(o, m.Token) || strings.Contains(o, sig) || strings.Contains(o, m.Token[:strings.Index(m.Token, ".")]) {
			t.Fatal("the output shows the token or its signature")
		}
	}
	wantStatus(t, rep, map[string]string{
		"url": statusPass, "dns": statusSkip, "tcp": statusPass, "tls": statusSkip, "jwks": statusPass,
		"jwks.cache-control": statusPass, "jwks.key": statusPass, "clock": statusPass, "validate": statusPass,
		"token.exp": statusPass, "token.iat": statusPass, "token.session_id": statusPass, "token.aud": statusPass,
		"token.iss": statusPass, "token.signature": statusPass, "token.hanko": statusPass,
	})
	if rep.Token == nil || rep.Token.SessionID != m.SessionID || rep.Token.Email != "a@example.com" || len(rep.RecommendedFlags) != 0 {
		t.Errorf("token %+v, flags %v", rep.Token, rep.RecommendedFlags)
	}
}

func TestDoctorFindsFaults(t *testing.T) {
	srv := hankotest.NewServer()
	defer srv.Close()
	m := srv.MustMint(t, hankotest.Session{})
	for _, tc := range []struct {
		name   string
		inject func(t *testing.T)
		args   []string
		want   map[string]string
		fix    string // in the fix of the first failure
	}{
		{"5xx", func(*testing.T) { srv.FailAll(hankotest.Failure{Status: 503}) }, nil,
			map[string]string{"jwks": statusFail, "validate": statusFail, "token.signature": statusSkip, "token.hanko": statusSkip}, "Hanko's logs"},
		{"slow", func(*testing.T) { srv.FailAll(hankotest.Failure{Delay: time.Minute}) }, []string{"--timeout", "200ms"},
			map[string]string{"tcp": statusPass, "jwks": statusFail, "validate": statusFail}, "overloaded"},
		{"slow validate", func(*testing.T) { srv.Fail(hankotest.EndpointValidate, hankotest.Failure{Delay: time.Minute}) }, []string{"--timeout", "200ms"},
			map[string]string{"jwks": statusPass, "validate": statusFail, "token.signature": statusPass}, "overloaded"},
		{"clock far off", func(*testing.T) { srv.FailAll(hankotest.Failure{ClockSkew: -2 * time.Minute}) }, nil,
			map[string]string{"clock": statusFail, "jwks": statusPass}, "NTP"},
		{"weak key", func(t *testing.T) { srv.Fail(hankotest.EndpointJWKS, mustBadJWKS(t, srv, hankotest.WeakKey)) }, nil,
			map[string]string{"jwks": statusPass, "token.signature": statusPass}, "at least 2048 bits"},
		{"duplicate kid", func(t *testing.T) { srv.Fail(hankotest.EndpointJWKS, mustBadJWKS(t, srv, hankotest.DuplicateKid)) }, nil,
			map[string]string{"jwks.key": statusFail, "jwks": statusFail, "token.signature": statusSkip}, "own kid"},
		{"symmetric key", func(t *testing.T) { srv.Fail(hankotest.EndpointJWKS, mustBadJWKS(t, srv, hankotest.SymmetricKey)) }, nil,
			map[string]string{"jwks": statusPass}, "secrets.keys"},
		{"no keys", func(t *testing.T) { srv.Fail(hankotest.EndpointJWKS, mustBadJWKS(t, srv, hankotest.NoKeys)) }, nil,
			map[string]string{"jwks": statusFail}, "at least one"},
		{"wrong audience", func(*testing.T) {}, []string{"--audience", "example.com"},
			map[string]string{"token.aud": statusFail, "token.signature": statusFail, "token.hanko": statusPass}, "--audience localhost"},
		{"wrong issuer", func(*testing.T) {}, []string{"--issuer", "https://x"},
			map[string]string{"token.iss": statusFail, "token.signature": statusFail}, "drop --issuer"},
		{"endpoint url", func(*testing.T) {}, []string{"--hanko-url", srv.URL + "/.well-known/jwks.json"},
			map[string]string{"url": statusFail}, "use --hanko-url " + srv.URL},
		{"prefix too many", func(*testing.T) {}, []string{"--hanko-url", srv.URL + "/hanko/v1"},
			map[string]string{"jwks": statusFail, "validate": statusFail}, "use --hanko-url " + srv.URL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.ClearFailures()
			defer srv.ClearFailures()
			tc.inject(t)
			args := append([]string{"--hanko-url", srv.URL, "--token", m.Token, "--calls", "2"}, tc.args...)
			code, rep := runDoctor(t, "", args...)
			if code != exitFailure {
				t.Errorf("exit %d, want 1", code)
			}
			wantStatus(t, rep, tc.want)
			for _, f := range rep.Findings {
				if f.Status == statusFail {
					if !strings.Contains(f.Fix, tc.fix) {
						t.Errorf("first failure %+v: fix lacks %q", f, tc.fix)
					}
					break
				}
			}
		})
	}
}

func mustBadJWKS(t *testing.T, srv *hankotest.Server, k hankotest.KeyFault) hankotest.Failure {
	t.Helper()
	f, err := srv.BadJWKS(k)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A wrong path prefix is told apart from a Hanko that is down.
func TestDoctorWrongPathPrefix(t *testing.T) {
	srv := hankotest.NewServer(hankotest.WithPathPrefix("/tenants/acme"))
	defer srv.Close()
	bare := strings.TrimSuffix(srv.URL, "/tenants/acme")
	code, rep := runDoctor(t, "", "--hanko-url", bare)
	if code != exitFailure {
		t.Errorf("exit %d", code)
	}
	f := rep.status("jwks")
	if f.Status != statusFail || !strings.Contains(f.Message, "wrong path prefix, not a Hanko outage") || !strings.Contains(f.Fix, "path prefix") {
		t.Errorf("jwks: %+v", f)
	}
	if code, _ := runDoctor(t, "", "--hanko-url", srv.URL); code != exitOK {
		t.Errorf("with the prefix: exit %d", code)
	}
}

func TestDoctorTokens(t *testing.T) {
	srv := hankotest.NewServer()
	defer srv.Close()
	expired := srv.MustMint(t, hankotest.Session{Lifetime: -time.Hour})
	revoked := srv.MustMint(t, hankotest.Session{})
	srv.Revoke(revoked.SessionID)
	webhook, err := srv.Sign(map[string]any{"sub": "x", "exp": time.Now().Add(time.Hour).Unix(), "aud": []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token string
		want        map[string]string
	}{
		{"expired", expired.Token, map[string]string{"token.exp": statusFail, "token.signature": statusFail, "token.hanko": statusFail}},
		{"revoked", revoked.Token, map[string]string{"token.exp": statusPass, "token.signature": statusPass, "token.hanko": statusFail}},
		{"webhook", webhook, map[string]string{"token.session_id": statusFail, "token.signature": statusFail}},
		{"garbage", "not-a-jwt", map[string]string{"token": statusFail, "jwks": statusPass}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, rep := runDoctor(t, "", "--hanko-url", srv.URL, "--token", tc.token, "--calls", "1")
			if code != exitFailure {
				t.Errorf("exit %d", code)
			}
			wantStatus(t, rep, tc.want)
		})
	}
}

func TestDoctorUsage(t *testing.T) {
	for _, args := range [][]string{
		{"doctor"},
		{"doctor", "--hanko-url", "http://h", "--output", "yaml"},
		{"doctor", "--hanko-url", "http://h", "--calls", "0"},
		{"doctor", "--hanko-url", "http://h", "token"},
	} {
		if code, out, errOut := runCLI(t, nil, "", args...); code != exitUsage || out != "" || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	// An unreachable Hanko is a failed check, not a usage error.
	if code, _ := runDoctor(t, "", "--hanko-url", "http://127.0.0.1:1"); code != exitFailure {
		t.Errorf("unreachable: exit %d", code)
	}
}

// DNS and TLS: a host name resolves; a certificate this machine does not
// trust fails with a fix.
func TestDoctorDNSAndTLS(t *testing.T) {
	h, err := hankotest.New()
	if err != nil {
		t.Fatal(err)
	}
	plain := httptest.NewServer(h.Handler())
	defer plain.Close()
	code, rep := runDoctor(t, "", "--hanko-url", strings.Replace(plain.URL, "127.0.0.1", "localhost", 1), "--calls", "1")
	if code != exitOK {
		t.Errorf("localhost: exit %d: %+v", code, rep.Findings)
	}
	wantStatus(t, rep, map[string]string{"dns": statusPass, "tls": statusSkip})

	tlsSrv := httptest.NewTLSServer(h.Handler())
	defer tlsSrv.Close()
	code, rep = runDoctor(t, "", "--hanko-url", tlsSrv.URL)
	if code != exitFailure {
		t.Errorf("untrusted certificate: exit %d", code)
	}
	if f := rep.status("tls"); f.Status != statusFail || !strings.Contains(f.Fix, "SSL_CERT_FILE") {
		t.Errorf("tls: %+v", f)
	}

	// With --hanko-ca-file naming the server's CA, as serve would take it,
	// the same Hanko passes.
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	code, rep = runDoctor(t, "", "--hanko-url", tlsSrv.URL, "--hanko-ca-file", caFile, "--calls", "1")
	if code != exitOK {
		t.Errorf("trusted through --hanko-ca-file: exit %d: %+v", code, rep.Findings)
	}
	wantStatus(t, rep, map[string]string{"tls": statusPass})
}
