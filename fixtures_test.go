package hankoauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fixtureClock is the time the recorded tokens are checked at: they were
// issued on 2026-11-27 around 13:28 UTC with a 12 h lifetime.
var fixtureClock = time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return fixtureClock }

// fixture reads a recorded file from testdata/hanko/fixtures.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "hanko", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtureToken reads a recorded token: NAME.jwt, or the session_token of
// the body of NAME.request.http.
func fixtureToken(t testing.TB, name string) string {
	t.Helper()
	if strings.HasSuffix(name, ".jwt") {
		return strings.TrimSpace(string(fixture(t, name)))
	}
	raw := fixture(t, name+".request.http")
	_, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		_, body, _ = bytes.Cut(raw, []byte("\n\n"))
	}
	var req struct {
		SessionToken string `json:"session_token"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return req.SessionToken
}

// fixtureBody reads the body of a recorded response as JSON bytes.
func fixtureBody(t testing.TB, name string) []byte {
	t.Helper()
	return fixture(t, name+".response.json")
}

// keyServer serves a JWKS document at /.well-known/jwks.json like Hanko,
// and counts the fetches. The document can be swapped and the server made
// to fail.
type keyServer struct {
	*httptest.Server
	mu      sync.Mutex
	jwks    []byte
	status  int
	maxAge  string // the Cache-Control header; Hanko's by default
	fetches atomic.Int64
}

func newKeyServer(t testing.TB, jwks []byte) *keyServer {
	t.Helper()
	ks := &keyServer{jwks: jwks, status: http.StatusOK, maxAge: "max-age=600"}
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		ks.fetches.Add(1)
		ks.mu.Lock()
		body, status, cc := ks.jwks, ks.status, ks.maxAge
		ks.mu.Unlock()
		w.Header().Set("Cache-Control", cc)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) set(jwks []byte, status int) {
	ks.mu.Lock()
	ks.jwks, ks.status = jwks, status
	ks.mu.Unlock()
}

// newLocal returns a local-mode validator against ks with the fixture
// clock, ready (its JWKS loaded).
func newLocal(t testing.TB, ks *keyServer, mod func(*Config)) *Validator {
	t.Helper()
	cfg := Config{APIURL: ks.URL, Mode: ModeLocal, Now: fixedNow}
	if mod != nil {
		mod(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	waitReady(t, v)
	return v
}

func waitReady(t testing.TB, v *Validator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatalf("validator not ready: %v", err)
	}
}

// TestRecordedTokensLocal checks the recorded tokens against the recorded
// JWKS in local mode, as the contract in testdata/hanko/README.md demands.
func TestRecordedTokensLocal(t *testing.T) {
	mainJWKS := fixtureBody(t, "00-jwks")
	otherJWKS := fixtureBody(t, "09-other-deployment-jwks")
	rotationJWKS := fixtureBody(t, "11-rotation-jwks-two-keys")
	webhookJWKS, err := os.ReadFile(filepath.Join("testdata", "hanko", "webhooks", "jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	webhook, err := os.ReadFile(filepath.Join("testdata", "hanko", "webhooks", "006-A3-logout-session.delete.explicit.logout.jwt"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		jwks    []byte
		token   string
		now     time.Time
		mod     func(*Config)
		wantErr error
		wantSub string
	}{
		{name: "password login", jwks: mainJWKS, token: fixtureToken(t, "03-token-valid.jwt"), wantSub: "0227d571-009a-4cdb-9378-caeaefd071ec"},
		{name: "passcode login", jwks: mainJWKS, token: fixtureToken(t, "03-token-passcode-login.jwt"), wantSub: "0227d571-009a-4cdb-9378-caeaefd071ec"},
		{name: "admin minted", jwks: mainJWKS, token: fixtureToken(t, "03-token-admin-minted.jwt"), wantSub: "0227d571-009a-4cdb-9378-caeaefd071ec"},
		{name: "unrevoked", jwks: mainJWKS, token: fixtureToken(t, "03-token-valid-unrevoked.jwt"), wantSub: "0227d571-009a-4cdb-9378-caeaefd071ec"},
		{name: "audience configured and matching", jwks: mainJWKS, token: fixtureToken(t, "03-token-valid.jwt"), mod: func(c *Config) { c.Audience = []string{"example.com", "localhost"} }, wantSub: "0227d571-009a-4cdb-9378-caeaefd071ec"},
		{name: "audience configured, not matching", jwks: mainJWKS, token: fixtureToken(t, "03-token-valid.jwt"), mod: func(c *Config) { c.Audience = []string{"example.com"} }, wantErr: ErrWrongAudience},
		{name: "issuer configured, token has none", jwks: mainJWKS, token: fixtureToken(t, "03-token-valid.jwt"), mod: func(c *Config) { c.Issuer = "https://hanko.example.com" }, wantErr: ErrWrongIssuer},
		{name: "expired (12 h later)", jwks: mainJWKS, token: fixtureToken(t, "03-token-valid.jwt"), now: fixtureClock.Add(12 * time.Hour), wantErr: ErrExpired},
		{name: "within leeway after exp", jwks: mainJWKS, token: fixtureToken(t, "03-token-valid.jwt"), now: time.Unix(1795829283, 0).Add(20 * time.Second), wantSub: "0227d571-009a-4cdb-9378-caeaefd071ec"},
		{name: "issued in the future", jwks: mainJWKS, token: fixtureToken(t, "03-token-valid.jwt"), now: time.Unix(1795786083, 0).Add(-time.Minute), wantErr: ErrNotYetValid},
		{name: "short-lived token expired", jwks: mainJWKS, token: fixtureToken(t, "08-token-short-lived.jwt"), wantErr: ErrExpired},
		{name: "foreign key, same kid", jwks: mainJWKS, token: fixtureToken(t, "04-token-foreign-key-same-kid.jwt"), wantErr: ErrBadSignature},
		{name: "foreign key, random kid", jwks: mainJWKS, token: fixtureToken(t, "04-token-foreign-key-random-kid.jwt"), wantErr: ErrUnknownKey},
		{name: "other deployment", jwks: mainJWKS, token: fixtureToken(t, "09-token-other-deployment.jwt"), wantErr: ErrUnknownKey},
		{name: "other deployment on its own keys", jwks: otherJWKS, token: fixtureToken(t, "09-token-other-deployment.jwt"), wantSub: "fe2ab2f8-a88b-4baa-b37a-9f4c89db7dcd"},
		{name: "rotation: old token", jwks: rotationJWKS, token: fixtureToken(t, "09-token-other-deployment.jwt"), wantSub: "fe2ab2f8-a88b-4baa-b37a-9f4c89db7dcd"},
		{name: "rotation: new token", jwks: rotationJWKS, token: fixtureToken(t, "11-rotation-new-token.jwt"), wantSub: "fe2ab2f8-a88b-4baa-b37a-9f4c89db7dcd"},
		{name: "tampered payload", jwks: mainJWKS, token: fixtureToken(t, "04-post-validate-tampered-payload"), wantErr: ErrBadSignature},
		{name: "tampered signature", jwks: mainJWKS, token: fixtureToken(t, "04-post-validate-tampered-signature"), wantErr: ErrBadSignature},
		{name: "alg none", jwks: mainJWKS, token: fixtureToken(t, "04-post-validate-alg-none"), wantErr: ErrMalformed},
		{name: "HS256 with the public key as secret", jwks: mainJWKS, token: fixtureToken(t, "04-post-validate-alg-hs256-confusion"), wantErr: ErrMalformed},
		{name: "garbage", jwks: mainJWKS, token: fixtureToken(t, "04-post-validate-garbage"), wantErr: ErrMalformed},
		{name: "garbage in 3 segments", jwks: mainJWKS, token: fixtureToken(t, "04-post-validate-garbage-3-segments"), wantErr: ErrMalformed},
		{name: "bearer prefix inside the token", jwks: mainJWKS, token: fixtureToken(t, "04-post-validate-bearer-prefix-in-body"), wantErr: ErrMalformed},
		{name: "webhook token (no session_id)", jwks: webhookJWKS, token: strings.TrimSpace(string(webhook)), wantErr: ErrNotSessionToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := newKeyServer(t, tt.jwks)
			now := tt.now
			if now.IsZero() {
				now = fixtureClock
			}
			v := newLocal(t, ks, func(c *Config) {
				c.Now = func() time.Time { return now }
				if tt.mod != nil {
					tt.mod(c)
				}
			})
			s, err := v.Validate(context.Background(), tt.token)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrInvalidToken) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if s != nil {
					t.Fatalf("session %+v returned with an error", s)
				}
				if strings.Contains(err.Error(), tt.token) {
					t.Fatal("error message carries the token")
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if s.UserID != tt.wantSub || s.SessionID == "" || s.ExpiresAt.IsZero() {
				t.Fatalf("session = %+v", s)
			}
		})
	}
}

// TestRecordedSessionFields checks every field of a Session read from a
// recorded token.
func TestRecordedSessionFields(t *testing.T) {
	v := newLocal(t, newKeyServer(t, fixtureBody(t, "00-jwks")), nil)
	s, err := v.Validate(context.Background(), fixtureToken(t, "03-token-valid.jwt"))
	if err != nil {
		t.Fatal(err)
	}
	want := Session{
		UserID:    "0227d571-009a-4cdb-9378-caeaefd071ec",
		SessionID: "7a14fa80-6328-4fe0-b9d5-00d0bd5861cb",
		Email:     &Email{Address: "alice@example.com", Verified: true, Primary: true},
		Audience:  []string{"localhost"},
		AMR:       []string{"pwd"},
		IssuedAt:  time.Unix(1795786083, 0),
		ExpiresAt: time.Unix(1795829283, 0),
	}
	if s.UserID != want.UserID || s.SessionID != want.SessionID || *s.Email != *want.Email ||
		strings.Join(s.Audience, ",") != "localhost" || !s.HasAMR("pwd") || s.HasAMR("passkey") ||
		!s.IssuedAt.Equal(want.IssuedAt) || !s.ExpiresAt.Equal(want.ExpiresAt) || !s.IdleExpiresAt.IsZero() {
		t.Fatalf("session = %+v, email %+v", s, s.Email)
	}
	var custom struct {
		SessionID string `json:"session_id"`
		Email     struct {
			Address string `json:"address"`
		} `json:"email"`
	}
	if err := s.Claims(&custom); err != nil || custom.SessionID != want.SessionID || custom.Email.Address != "alice@example.com" {
		t.Fatalf("Claims = %+v, %v", custom, err)
	}
	// The admin-minted token has no amr.
	s, err = v.Validate(context.Background(), fixtureToken(t, "03-token-admin-minted.jwt"))
	if err != nil || len(s.AMR) != 0 {
		t.Fatalf("admin minted: %+v, %v", s, err)
	}
}

// TestRecordedValidateResponses parses the recorded answers of
// /sessions/validate.
func TestRecordedValidateResponses(t *testing.T) {
	tests := []struct {
		name     string
		wantErr  error
		wantSub  string
		wantSID  string
		wantIdle bool
	}{
		{name: "04-post-validate-valid", wantSub: "0227d571-009a-4cdb-9378-caeaefd071ec", wantSID: "7a14fa80-6328-4fe0-b9d5-00d0bd5861cb"},
		{name: "04-post-validate-valid-admin-minted", wantSub: "0227d571-009a-4cdb-9378-caeaefd071ec"},
		{name: "04-post-validate-valid-passcode-token", wantSub: "0227d571-009a-4cdb-9378-caeaefd071ec"},
		{name: "04-post-validate-extra-fields", wantSub: "0227d571-009a-4cdb-9378-caeaefd071ec"},
		{name: "08-post-validate-fresh-with-idle-timeout", wantSub: "0227d571-009a-4cdb-9378-caeaefd071ec", wantSID: "633a98f3-9f96-4055-9816-f1e7135f6363", wantIdle: true},
		{name: "11-rotation-post-validate-new-token", wantSub: "fe2ab2f8-a88b-4baa-b37a-9f4c89db7dcd"},
		{name: "04-post-validate-garbage", wantErr: ErrRevoked},
		{name: "07a-post-validate-after-logout", wantErr: ErrRevoked},
		{name: "07b-post-validate-after-admin-delete", wantErr: ErrRevoked},
		{name: "08-post-validate-idle-expired", wantErr: ErrRevoked},
		{name: "04-post-validate-empty-object", wantErr: ErrUnavailable}, // a 400 body is not a 200 answer
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parseValidateResponse(fixtureBody(t, tt.name))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.UserID != tt.wantSub || (tt.wantSID != "" && s.SessionID != tt.wantSID) || s.ExpiresAt.IsZero() || s.IssuedAt.IsZero() {
				t.Fatalf("session = %+v", s)
			}
			if s.IdleExpiresAt.IsZero() == tt.wantIdle {
				t.Fatalf("IdleExpiresAt = %v, want set: %v", s.IdleExpiresAt, tt.wantIdle)
			}
			if s.Email == nil || s.Email.Address != "alice@example.com" {
				t.Fatalf("email = %+v", s.Email)
			}
		})
	}
}
