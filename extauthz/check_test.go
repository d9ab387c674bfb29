package extauthz

import (
	"context"
	"encoding/base64"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
)

var update = flag.Bool("update", false, "rewrite the .want.json files of testdata/check from the current answers")

// now is the fixed clock of the fake Hanko and the validator, so that the
// times in dynamic metadata are stable.
var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const (
	aliceID = "0b6a1f0e-5c3d-4e2a-9f1b-7d8c6e5a4b3c"
	bobID   = "5f4e3d2c-1b0a-4987-8654-3210fedcba98"
)

// fixture is a fake Hanko and a validator that trusts it.
type fixture struct {
	hanko *hankotest.Server
	v     *hankoauth.Validator
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	clock := func() time.Time { return now }
	h := hankotest.NewServer(hankotest.WithClock(clock))
	tb.Cleanup(h.Close)
	v, err := hankoauth.New(hankoauth.Config{APIURL: h.URL, Now: clock, RequestTimeout: 2 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { v.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		tb.Fatalf("validator not ready: %v", err)
	}
	return &fixture{hanko: h, v: v}
}

// placeholders are the values a fixture file refers to as {{name}}.
type placeholders map[string]string

// load reads testdata/check/name.json with its placeholders filled in.
func (p placeholders) load(tb testing.TB, name string) *authv3.CheckRequest {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "check", name+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	req := new(authv3.CheckRequest)
	if err := protojson.Unmarshal([]byte(p.fill(string(b))), req); err != nil {
		tb.Fatalf("%s.json: %v", name, err)
	}
	return req
}

func (p placeholders) fill(s string) string {
	for k, v := range p {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	return s
}

// unfill puts the placeholders of the values that vary per run back, for
// -update.
func (p placeholders) unfill(s string) string {
	for _, k := range []string{"session_id", "session_id2"} {
		if v := p[k]; v != "" {
			s = strings.ReplaceAll(s, v, "{{"+k+"}}")
		}
	}
	return s
}

func TestCheck(t *testing.T) {
	f := newFixture(t)
	alice := f.hanko.MustMint(t, hankotest.Session{
		UserID: aliceID, Email: "alice@example.com", AMR: []string{"pwd"},
		Claims: map[string]any{"tenant": "acme", "level": 3, "beta": true, "roles": []string{"admin"}, "note": "a\nb"},
	})
	bob := f.hanko.MustMint(t, hankotest.Session{UserID: bobID, Username: "bob", AMR: []string{"passkey"}})

	tests := []struct {
		name    string
		fixture string           // testdata/check/<fixture>.json; default name
		token   string           // {{token}}; default alice's
		opts    []Option         // besides WithPublicPaths and WithPublicMethods
		setup   func(*testing.T) // before Check
		wantErr codes.Code       // a gRPC error instead of a response
	}{
		{name: "bearer_headers_map"},
		{name: "cookie_header_map_raw"},
		{name: "both_agree"},
		{name: "both_disagree"},
		{name: "repeated_header_map_disagree"},
		{name: "neither"},
		{name: "spoofed_identity", token: bob.Token},
		{name: "public_path"},
		{name: "public_case"},
		{name: "preflight"},
		{name: "traversal"},
		{name: "encoded_traversal"},
		{name: "encoded_slash"},
		{name: "grpc_missing"},
		{name: "grpc_expired", token: f.hanko.MustMint(t, hankotest.Session{UserID: aliceID, Lifetime: -time.Hour}).Token},
		{name: "expired", token: f.hanko.MustMint(t, hankotest.Session{UserID: aliceID, Lifetime: -time.Hour}).Token},
		{name: "revoked", token: revoked(t, f)},
		{name: "requirement_failed", opts: []Option{WithRequirement(hankoauth.RequireAMR("passkey"))}},
		{name: "requirement_met", fixture: "requirement_failed", token: bob.Token, opts: []Option{WithRequirement(hankoauth.RequireAMR("passkey"))}},
		{name: "claim_headers", opts: []Option{
			WithClaimHeader("tenant", "X-Hanko-Tenant"),
			WithClaimHeader("level", "x-hanko-level"),
			WithClaimHeader("beta", "x-hanko-beta"),
			WithClaimHeader("roles", "x-hanko-roles"), // an array: not sent
			WithClaimHeader("note", "x-hanko-note"),   // a control character: not sent
			WithClaimHeader("absent", "x-hanko-absent"),
		}},
		{name: "renamed_headers", fixture: "spoofed_identity", token: bob.Token, opts: []Option{WithIdentityHeaders("x-user", "", "x-mail")}},
		{name: "strip_bearer", opts: []Option{WithStripToken(true)}},
		{name: "strip_cookie", opts: []Option{WithStripToken(true)}},
		{name: "strip_only_cookie", opts: []Option{WithStripToken(true)}},
		{name: "hanko_down", token: fresh(t, f), setup: hankoDown(f), opts: []Option{WithRetryAfter(1500 * time.Millisecond)}},
		{name: "hanko_down_return_error", fixture: "hanko_down", token: fresh(t, f), setup: hankoDown(f),
			opts: []Option{WithFailureMode(ReturnError)}, wantErr: codes.Unavailable},
		{name: "no_http_attributes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tt.token
			if token == "" {
				token = alice.Token
			}
			p := placeholders{
				"token":       token,
				"token2":      bob.Token,
				"cookie_b64":  base64.StdEncoding.EncodeToString([]byte("theme=dark; hanko=" + token)),
				"session_id":  alice.SessionID,
				"session_id2": bob.SessionID,
			}
			fixture := tt.fixture
			if fixture == "" {
				fixture = tt.name
			}
			req := p.load(t, fixture)
			if tt.setup != nil {
				tt.setup(t)
			}
			opts := append([]Option{WithPublicPaths("/public/", "/healthz"), WithPublicHTTPMethods("OPTIONS")}, tt.opts...)
			got, err := mustServer(f.v, opts...).Check(context.Background(), req)
			if tt.wantErr != codes.OK {
				if status.Code(err) != tt.wantErr || got != nil {
					t.Fatalf("Check = %v, %v; want a %v error", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			wantFile := filepath.Join("testdata", "check", tt.name+".want.json")
			if *update {
				b, _ := protojson.MarshalOptions{Multiline: true}.Marshal(got)
				if err := os.WriteFile(wantFile, []byte(p.unfill(string(b))+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatal(err)
			}
			want := new(authv3.CheckResponse)
			if err := protojson.Unmarshal([]byte(p.fill(string(b))), want); err != nil {
				t.Fatalf("%s: %v", wantFile, err)
			}
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Errorf("Check(%s) mismatch (-want +got):\n%s", fixture, diff)
			}
		})
	}
}

// fresh mints a token that no validator has seen, so that checking it
// needs Hanko.
func fresh(t *testing.T, f *fixture) string {
	return f.hanko.MustMint(t, hankotest.Session{UserID: aliceID}).Token
}

// revoked mints a token and ends its session in Hanko before any check.
func revoked(t *testing.T, f *fixture) string {
	m := f.hanko.MustMint(t, hankotest.Session{UserID: aliceID})
	f.hanko.Revoke(m.SessionID)
	return m.Token
}

// hankoDown makes Hanko's validate endpoint fail until the test ends.
func hankoDown(f *fixture) func(*testing.T) {
	return func(t *testing.T) {
		f.hanko.Fail(hankotest.EndpointValidate, hankotest.Failure{Status: 503})
		t.Cleanup(f.hanko.ClearFailures)
	}
}

func TestCheckDecisionHook(t *testing.T) {
	f := newFixture(t)
	alice := f.hanko.MustMint(t, hankotest.Session{UserID: aliceID})
	var mu sync.Mutex
	var got []hankoauth.Decision
	s := mustServer(f.v, WithPublicPaths("/public/"), WithDecisionHook(func(_ context.Context, d hankoauth.Decision) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, d)
	}))
	p := placeholders{"token": alice.Token}
	for _, name := range []string{"bearer_headers_map", "neither", "public_path", "no_http_attributes"} {
		if _, err := s.Check(context.Background(), p.load(t, name)); err != nil {
			t.Fatal(err)
		}
	}
	want := []hankoauth.Decision{
		{Edge: "extauthz", Result: "allow", Reason: hankoauth.ReasonOK, Target: "/api/orders"},
		{Edge: "extauthz", Result: "deny", Reason: hankoauth.ReasonTokenMissing, Target: "/api/orders"},
		{Edge: "extauthz", Result: "public", Reason: hankoauth.ReasonOK, Target: "/public/css/app.css", Public: true},
		{Edge: "extauthz", Result: "deny", Reason: hankoauth.ReasonNoHTTPAttributes},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
}

// TestCheckCallerGaveUp: a Check whose caller (Envoy's timeout) gave up
// reports REQUEST_CANCELED, not an unavailable Hanko.
func TestCheckCallerGaveUp(t *testing.T) {
	f := newFixture(t)
	alice := f.hanko.MustMint(t, hankotest.Session{UserID: aliceID})
	var got []hankoauth.Decision
	s := mustServer(f.v, WithDecisionHook(func(_ context.Context, d hankoauth.Decision) { got = append(got, d) }))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp, err := s.Check(ctx, placeholders{"token": alice.Token}.load(t, "bearer_headers_map"))
	if err != nil {
		t.Fatal(err)
	}
	if c := codes.Code(resp.GetStatus().GetCode()); c != codes.Canceled {
		t.Errorf("status %v, want Canceled", c)
	}
	want := []hankoauth.Decision{{Edge: "extauthz", Result: "canceled", Reason: hankoauth.ReasonCanceled, Target: "/api/orders"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
}
