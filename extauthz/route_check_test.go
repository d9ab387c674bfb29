package extauthz

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
)

// Per-route requirements from the CheckRequest's context extensions,
// through Check, with a clock that can mint old logins.
func TestCheckRouteRequirements(t *testing.T) {
	var clockNS atomic.Int64
	clockNS.Store(now.UnixNano())
	clock := func() time.Time { return time.Unix(0, clockNS.Load()) }
	h := hankotest.NewServer(hankotest.WithClock(clock))
	defer h.Close()
	v, err := hankoauth.New(hankoauth.Config{APIURL: h.URL, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for v.Ready() != nil {
		time.Sleep(5 * time.Millisecond)
	}
	clockNS.Add(-int64(10 * time.Minute))
	oldLogin := h.MustMint(t, hankotest.Session{Email: "carol@example.com", AMR: []string{"passkey"}})
	clockNS.Add(int64(10 * time.Minute))
	carol := h.MustMint(t, hankotest.Session{Email: "carol@example.com", AMR: []string{"passkey"}})
	alice := h.MustMint(t, hankotest.Session{Email: "alice@example.com", AMR: []string{"pwd"}})
	unverified := false
	dave := h.MustMint(t, hankotest.Session{Email: "dave@example.com", EmailVerified: &unverified, AMR: []string{"passkey"}})

	var logs bytes.Buffer
	var mu sync.Mutex
	var reasons []hankoauth.Reason
	s := mustServer(v, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		WithDecisionHook(func(_ context.Context, d hankoauth.Decision) {
			mu.Lock()
			reasons = append(reasons, d.Reason)
			mu.Unlock()
		}))
	sensitive := map[string]string{ExtRequire: "verified_email", ExtAMR: "passkey", ExtMaxAge: "5m", "tenant": "acme"}
	// Twice: the second round answers from the server's route cache.
	for round := range 2 {
		for _, tc := range []struct {
			name   string
			token  string
			ext    map[string]string
			reason hankoauth.Reason
			status int32 // the HTTP status of a denial
			global []Option
		}{
			{"all met", carol.Token, sensitive, hankoauth.ReasonOK, 0, nil},
			{"no extensions", alice.Token, nil, hankoauth.ReasonOK, 0, nil},
			{"foreign extensions only", alice.Token, map[string]string{"tenant": "acme"}, hankoauth.ReasonOK, 0, nil},
			{"wrong login method", alice.Token, sensitive, hankoauth.ReasonForbidden, 403, nil},
			{"unverified email", dave.Token, sensitive, hankoauth.ReasonForbidden, 403, nil},
			{"login too old", oldLogin.Token, sensitive, hankoauth.ReasonReauthenticate, 401, nil},
			{"login too old, max_age only", oldLogin.Token, map[string]string{ExtMaxAge: "5m"}, hankoauth.ReasonReauthenticate, 401, nil},
			{"old login within a longer max_age", oldLogin.Token, map[string]string{ExtMaxAge: "15m"}, hankoauth.ReasonOK, 0, nil},
			{"typo denies a valid session", carol.Token, map[string]string{"hanko.requires": "verified_email"}, hankoauth.ReasonForbidden, 403, nil},
			{"typo denies without a token", "", map[string]string{"hanko.maxage": "5m"}, hankoauth.ReasonForbidden, 403, nil},
			{"bad value", carol.Token, map[string]string{ExtMaxAge: "soon"}, hankoauth.ReasonForbidden, 403, nil},
			{"route adds to the global requirement", carol.Token, map[string]string{ExtAMR: "passkey"}, hankoauth.ReasonForbidden, 403,
				[]Option{WithRequirement(hankoauth.RequireAMR("pwd"))}},
		} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, round), func(t *testing.T) {
				srv := s
				if tc.global != nil {
					srv = mustServer(v, tc.global...)
				}
				headers := map[string]string{}
				if tc.token != "" {
					headers["authorization"] = "Bearer " + tc.token
				}
				resp, err := srv.Check(t.Context(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
					Request:           &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Method: "POST", Path: "/account/delete", Headers: headers}},
					ContextExtensions: tc.ext,
				}})
				if err != nil {
					t.Fatal(err)
				}
				want := tc.reason.Info()
				if codes.Code(resp.GetStatus().GetCode()) != want.Code {
					t.Errorf("status %v, want %v (%s)", codes.Code(resp.GetStatus().GetCode()), want.Code, tc.reason)
				}
				if tc.status == 0 {
					if resp.GetOkResponse() == nil {
						t.Errorf("not allowed: %v", resp)
					}
					return
				}
				d := resp.GetDeniedResponse()
				if int32(d.GetStatus().GetCode()) != tc.status || !strings.Contains(d.GetBody(), string(tc.reason)) {
					t.Errorf("denied %v %q, want %d with %s", d.GetStatus(), d.GetBody(), tc.status, tc.reason)
				}
				if got := resp.GetDynamicMetadata().GetFields()["reason"].GetStringValue(); got != string(tc.reason) {
					t.Errorf("metadata reason %q", got)
				}
				if tc.reason == hankoauth.ReasonReauthenticate {
					var challenge string
					for _, hv := range d.GetHeaders() {
						if hv.GetHeader().GetKey() == "www-authenticate" {
							challenge = hv.GetHeader().GetValue()
						}
					}
					if !strings.Contains(challenge, `error="insufficient_user_authentication"`) {
						t.Errorf("challenge %q", challenge)
					}
				}
			})
		}
	}
	if !strings.Contains(logs.String(), `unknown context extension \"hanko.maxage\"`) || !strings.Contains(logs.String(), "route misconfigured") {
		t.Errorf("no clear log line for the typo:\n%s", logs.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if !containsReason(reasons, hankoauth.ReasonReauthenticate) {
		t.Errorf("decisions %v lack %s", reasons, hankoauth.ReasonReauthenticate)
	}
}

func containsReason(rs []hankoauth.Reason, r hankoauth.Reason) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}
