package extauthz

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
)

func TestHTTPHandler(t *testing.T) {
	f := newFixture(t)
	alice := f.hanko.MustMint(t, hankotest.Session{UserID: aliceID, Email: "alice@example.com", AMR: []string{"pwd"}})
	bob := f.hanko.MustMint(t, hankotest.Session{UserID: bobID, AMR: []string{"passkey"}})
	down := f.hanko.MustMint(t, hankotest.Session{UserID: aliceID}) // never validated before the down case

	s := mustServer(f.v,
		WithPublicPaths("/public/"),
		WithPublicHTTPMethods("OPTIONS"),
		WithRequirement(func(_ context.Context, sess *hankoauth.Session) error {
			if sess.HasAMR("passkey") {
				return fmt.Errorf("%w: passkey users are locked out in this test", hankoauth.ErrForbidden)
			}
			return nil
		}),
	)
	mux := http.NewServeMux()
	mux.Handle("/authz/", s.HTTPHandler("/authz"))
	mux.Handle("/verify", s.HTTPHandler("/verify"))
	ts := httptest.NewServer(mux)
	defer ts.Close()

	type want struct {
		status int
		header map[string]string // "" means absent
		body   string
	}
	allowAlice := map[string]string{
		"X-Hanko-User-Id":                aliceID,
		"X-Hanko-Session-Id":             alice.SessionID,
		"X-Hanko-Email":                  "alice@example.com",
		"X-Envoy-Auth-Headers-To-Remove": "",
		"Www-Authenticate":               "",
	}
	missing := want{
		status: 401,
		header: map[string]string{"Www-Authenticate": `Bearer realm="hanko"`, "Content-Type": "application/json", "X-Hanko-User-Id": ""},
		body:   `{"error":"unauthenticated","reason":"TOKEN_MISSING"}`,
	}
	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		setup  func(*testing.T)
		want   want
	}{
		{
			name: "envoy allow", path: "/authz/api/orders?page=2",
			header: map[string]string{"Authorization": "Bearer " + alice.Token},
			want:   want{status: 200, header: allowAlice},
		},
		{
			name: "envoy allow with cookie", path: "/authz/api/orders",
			header: map[string]string{"Cookie": "hanko=" + alice.Token},
			want:   want{status: 200, header: allowAlice},
		},
		{
			name: "envoy missing", path: "/authz/api/orders", want: missing,
		},
		{
			name: "envoy expired", path: "/authz/api/orders",
			header: map[string]string{"Authorization": "Bearer " + f.hanko.MustMint(t, hankotest.Session{UserID: aliceID, Lifetime: -time.Hour}).Token},
			want: want{
				status: 401,
				header: map[string]string{"Www-Authenticate": `Bearer realm="hanko", error="invalid_token"`, "Content-Type": "application/json"},
				body:   `{"error":"unauthenticated","reason":"SESSION_EXPIRED"}`,
			},
		},
		{
			name: "envoy forbidden", path: "/authz/api/orders",
			header: map[string]string{"Authorization": "Bearer " + bob.Token},
			want: want{
				status: 403,
				header: map[string]string{"Www-Authenticate": `Bearer realm="hanko", error="insufficient_scope"`, "Content-Type": "application/json", "X-Hanko-User-Id": ""},
				body:   `{"error":"permission_denied","reason":"PERMISSION_DENIED"}`,
			},
		},
		{
			name: "envoy grpc missing", method: "POST", path: "/authz/shop.v1.Orders/List",
			header: map[string]string{"Content-Type": "application/grpc"},
			want: want{
				status: 401,
				header: map[string]string{"Content-Type": "application/grpc", "Grpc-Status": "16", "Grpc-Message": "missing session token"},
			},
		},
		{
			name: "envoy hanko down", path: "/authz/api/orders",
			header: map[string]string{"Authorization": "Bearer " + down.Token},
			setup:  hankoDown(f),
			want: want{
				status: 503,
				header: map[string]string{"Retry-After": "1", "Content-Type": "application/json"},
				body:   `{"error":"unavailable","reason":"HANKO_UNAVAILABLE"}`,
			},
		},
		{
			name: "envoy public", path: "/authz/public/app.css",
			header: map[string]string{"X-Hanko-User-Id": "forged"},
			want: want{status: 200, header: map[string]string{
				"X-Envoy-Auth-Headers-To-Remove": "x-hanko-user-id, x-hanko-session-id, x-hanko-email",
				"X-Hanko-User-Id":                "",
			}},
		},
		{
			name: "envoy traversal", path: "/authz/public/%2e%2e/admin", want: missing,
		},
		{
			name: "envoy ignores forwarded headers", path: "/authz/admin",
			header: map[string]string{"X-Forwarded-Uri": "/public/x", "X-Forwarded-Method": "OPTIONS"},
			want:   missing,
		},
		{
			name: "envoy preflight", method: "OPTIONS", path: "/authz/api/orders",
			want: want{status: 200, header: map[string]string{"X-Envoy-Auth-Headers-To-Remove": "x-hanko-user-id, x-hanko-session-id, x-hanko-email"}},
		},
		{
			name: "traefik public", path: "/verify",
			header: map[string]string{"X-Forwarded-Uri": "/public/app.css?v=1", "X-Forwarded-Method": "GET"},
			want:   want{status: 200, header: map[string]string{"X-Hanko-User-Id": ""}},
		},
		{
			name: "traefik traversal", path: "/verify",
			header: map[string]string{"X-Forwarded-Uri": "/public/../admin"},
			want:   missing,
		},
		{
			name: "traefik preflight", path: "/verify",
			header: map[string]string{"X-Forwarded-Uri": "/api/orders", "X-Forwarded-Method": "OPTIONS"},
			want:   want{status: 200},
		},
		{
			name: "nginx allow", path: "/verify",
			header: map[string]string{"X-Original-Uri": "/api/orders", "X-Original-Method": "DELETE", "Authorization": "Bearer " + alice.Token},
			want:   want{status: 200, header: allowAlice},
		},
		{
			name: "nginx missing", path: "/verify",
			header: map[string]string{"X-Original-Uri": "/public-ish"},
			want:   missing,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(t)
			}
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, ts.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want.status {
				t.Errorf("status = %d, want %d (body %s)", resp.StatusCode, tt.want.status, body)
			}
			for k, v := range tt.want.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if diff := cmp.Diff(tt.want.body, string(body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHTTPHandlerStripToken(t *testing.T) {
	f := newFixture(t)
	alice := f.hanko.MustMint(t, hankotest.Session{UserID: aliceID})
	ts := httptest.NewServer(mustServer(f.v, WithStripToken(true)).HTTPHandler(""))
	defer ts.Close()

	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/orders", nil)
	req.Header.Set("Authorization", "Bearer "+alice.Token)
	req.Header.Set("Cookie", "theme=dark; hanko="+alice.Token)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := map[string]string{
		"X-Hanko-User-Id":                aliceID,
		"X-Hanko-Session-Id":             alice.SessionID,
		"X-Envoy-Auth-Headers-To-Remove": "x-hanko-email, authorization",
		"Cookie":                         "theme=dark",
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}
