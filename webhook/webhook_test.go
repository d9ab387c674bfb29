package webhook_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/webhook"
)

const recorded = "../testdata/hanko/webhooks"

// The recorded deliveries were sent between 13:59:50 and 14:01:27 on
// 2026-11-27, each valid for 300 s.
var recordedNow = time.Date(2026, 11, 27, 14, 1, 30, 0, time.UTC)

// fixture is a local-mode validator whose JWKS holds the recorded Hanko's
// key (which signed the recorded deliveries) and a key of the test's own
// (which signs session tokens for the recorded sessions, and crafted
// deliveries).
type fixture struct {
	v       *hankoauth.Validator
	h       *webhook.Handler
	key     *ecdsa.PrivateKey
	clock   *clock
	mu      sync.Mutex
	results map[string]int // "event result" -> count
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

func newFixture(t testing.TB, audience ...string) *fixture {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(read(t, "jwks.json"), &set); err != nil {
		t.Fatal(err)
	}
	set.Keys = append(set.Keys, jose.JSONWebKey{Key: &key.PublicKey, KeyID: "test", Algorithm: "ES256", Use: "sig"})
	jwks, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	ks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(ks.Close)
	f := &fixture{key: key, clock: &clock{now: recordedNow}, results: make(map[string]int)}
	f.v, err = hankoauth.New(hankoauth.Config{APIURL: ks.URL, Mode: hankoauth.ModeLocal, Now: f.clock.Now, Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.v.Close() })
	for deadline := time.Now().Add(5 * time.Second); f.v.Ready() != nil; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(f.v.Ready())
		}
	}
	f.h = webhook.NewHandler(f.v, webhook.WithObserver(func(event, result string) {
		f.mu.Lock()
		f.results[event+" "+result]++
		f.mu.Unlock()
	}))
	return f
}

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(recorded, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign signs claims with the test key (kid "test"), or with the header
// kid given.
func (f *fixture) sign(t *testing.T, claims any, kid string) string {
	t.Helper()
	if kid == "" {
		kid = "test"
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: f.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// session mints a session token of the test key for a recorded session.
func (f *fixture) session(t *testing.T, uid, sid string, iat time.Time) string {
	return f.sign(t, map[string]any{"sub": uid, "session_id": sid, "aud": []string{"localhost"}, "iat": iat.Unix(), "exp": iat.Add(12 * time.Hour).Unix()}, "")
}

func (f *fixture) post(t testing.TB, body []byte, contentType string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, webhook.DefaultPath, strings.NewReader(string(body)))
	r.Header.Set("Content-Type", contentType)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

// delivery is one recorded delivery.
type delivery struct {
	name  string
	body  []byte
	event string
	data  struct {
		ID        string `json:"id"`
		UserID    string `json:"user_id"`
		CreatedAt string `json:"created_at"`
	}
}

func deliveries(t *testing.T) []delivery {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(recorded, "*.body.json"))
	if err != nil || len(names) != 25 {
		t.Fatalf("recorded deliveries: %d, %v", len(names), err)
	}
	var out []delivery
	for _, n := range names {
		d := delivery{name: filepath.Base(n), body: read(t, filepath.Base(n))}
		var dec struct {
			Claims struct {
				Evt  string          `json:"evt"`
				Data json.RawMessage `json:"data"`
			} `json:"claims"`
		}
		if err := json.Unmarshal(read(t, strings.TrimSuffix(d.name, ".body.json")+".decoded.json"), &dec); err != nil {
			t.Fatal(err)
		}
		d.event = dec.Claims.Evt
		if err := json.Unmarshal(dec.Claims.Data, &d.data); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// TestRecordedDeliveries drives the receiver with every delivery real
// Hanko sent: each session.delete.* revokes its session, nothing else
// changes anything, and replaying them all (repeats, any order) changes
// nothing more.
func TestRecordedDeliveries(t *testing.T) {
	f := newFixture(t, "localhost")
	ds := deliveries(t)
	tokens := make(map[string]string) // session id -> a session token of it
	deleted := make(map[string]bool)
	for _, d := range ds {
		if strings.HasPrefix(d.event, "session.") {
			created, err := time.Parse(time.RFC3339Nano, d.data.CreatedAt)
			if err != nil {
				t.Fatal(err)
			}
			tokens[d.data.ID] = f.session(t, d.data.UserID, d.data.ID, created.Truncate(time.Second))
		}
		if strings.HasPrefix(d.event, "session.delete.") {
			deleted[d.data.ID] = true
		}
	}
	for sid, tok := range tokens {
		if _, err := f.v.Validate(context.Background(), tok); err != nil {
			t.Fatalf("session %s before any delivery: %v", sid, err)
		}
	}
	for round := range 2 {
		for i := range ds {
			d := ds[i]
			if round == 1 {
				d = ds[len(ds)-1-i] // the other order
			}
			w := f.post(t, d.body, "application/json")
			if w.Code != http.StatusNoContent {
				t.Fatalf("%s: %d %s", d.name, w.Code, w.Body)
			}
		}
	}
	for sid, tok := range tokens {
		_, err := f.v.Validate(context.Background(), tok)
		if deleted[sid] != errors.Is(err, hankoauth.ErrRevoked) || (!deleted[sid] && err != nil) {
			t.Errorf("session %s (deleted %v): %v", sid, deleted[sid], err)
		}
	}
	if len(deleted) != 7 || len(tokens) != 10 {
		t.Fatalf("%d sessions deleted of %d: the recordings changed?", len(deleted), len(tokens))
	}
	if st := f.v.Stats(); st.Revocations != len(deleted) {
		t.Fatalf("%d revocations, want %d", st.Revocations, len(deleted))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.results["session.delete.passive.limit applied"] != 4 || f.results["session.create.flow ignored"] != 16 || f.results["user.login ignored"] != 14 {
		t.Errorf("results: %v", f.results)
	}
}

// TestUserDelete: a user.delete revokes every session of the user issued
// up to the delivery, not one issued after, and not another user's.
func TestUserDelete(t *testing.T) {
	f := newFixture(t)
	const alice, bob = "f6a109e4-f163-4c1e-88cf-5efaf4af6ff9", "70140a15-e3fe-4f77-9058-ac03b44fb072"
	old := f.session(t, alice, "5b35d505-63a7-42c3-8458-709718aaa3bd", recordedNow.Add(-time.Hour))
	other := f.session(t, bob, "83b92b46-d16f-4144-a24c-9dff30ed108a", recordedNow.Add(-time.Hour))
	iat := recordedNow.Add(-time.Second)
	tok := f.sign(t, map[string]any{
		"sub": "hanko webhooks", "evt": "user.delete", "aud": []string{"localhost"},
		"iat": iat.Unix(), "exp": iat.Add(300 * time.Second).Unix(),
		"data": map[string]any{"id": alice, "created_at": "2026-11-27T13:31:14.335773Z", "updated_at": "2026-11-27T13:31:14.335928Z"},
	}, "")
	body, _ := json.Marshal(map[string]string{"token": tok, "event": "user.delete"})
	if w := f.post(t, body, "application/json"); w.Code != http.StatusNoContent {
		t.Fatalf("user.delete: %d %s", w.Code, w.Body)
	}
	if _, err := f.v.Validate(context.Background(), old); !errors.Is(err, hankoauth.ErrRevoked) {
		t.Errorf("session of the deleted user: %v", err)
	}
	if _, err := f.v.Validate(context.Background(), other); err != nil {
		t.Errorf("session of another user: %v", err)
	}
	later := f.session(t, alice, "33486b50-76ba-406a-bfeb-89526eefe6d0", recordedNow.Add(time.Second))
	if _, err := f.v.Validate(context.Background(), later); err != nil {
		t.Errorf("session issued after the deletion: %v", err)
	}
}

// TestRefused: deliveries the receiver must not trust, each refused with
// its status and without effect.
func TestRefused(t *testing.T) {
	f := newFixture(t, "localhost")
	logout := read(t, "006-A3-logout-session.delete.explicit.logout.body.json")
	var d struct{ Token, Event string }
	if err := json.Unmarshal(logout, &d); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(d.Token, ".")
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	body := func(token, event string) []byte {
		b, _ := json.Marshal(map[string]string{"token": token, "event": event})
		return b
	}
	tampered := strings.Replace(string(claims), "5b35d505", "5b35d506", 1)
	var claimMap map[string]any
	if err := json.Unmarshal(claims, &claimMap); err != nil {
		t.Fatal(err)
	}
	withClaim := func(k string, v any) map[string]any {
		c := make(map[string]any, len(claimMap))
		for kk, vv := range claimMap {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	sessionToken := f.session(t, "f6a109e4-f163-4c1e-88cf-5efaf4af6ff9", "5b35d505-63a7-42c3-8458-709718aaa3bd", recordedNow)
	tests := []struct {
		name   string
		body   []byte
		ctype  string
		now    time.Time
		status int
	}{
		{"tampered payload", body(parts[0]+"."+base64.RawURLEncoding.EncodeToString([]byte(tampered))+"."+parts[2], d.Event), "", recordedNow, 401},
		{"flipped signature", body(parts[0]+"."+parts[1]+"."+flip(parts[2]), d.Event), "", recordedNow, 401},
		{"expired", logout, "", recordedNow.Add(time.Hour), 401},
		{"issued in the future", logout, "", recordedNow.Add(-time.Hour), 401},
		{"re-signed with another key, same kid", body(f.sign(t, claimMap, "239527ca-40c3-4715-b581-804ea57e28a4"), d.Event), "", recordedNow, 401},
		{"session token as webhook", body(sessionToken, d.Event), "", recordedNow, 401},
		{"session token with the webhook subject", body(f.sign(t, withClaim("session_id", "5b35d505-63a7-42c3-8458-709718aaa3bd"), ""), d.Event), "", recordedNow, 401},
		{"another subject", body(f.sign(t, withClaim("sub", "f6a109e4-f163-4c1e-88cf-5efaf4af6ff9"), ""), d.Event), "", recordedNow, 401},
		{"no evt", body(f.sign(t, withClaim("evt", nil), ""), d.Event), "", recordedNow, 401},
		{"no exp", body(f.sign(t, withClaim("exp", nil), ""), d.Event), "", recordedNow, 401},
		{"no iat", body(f.sign(t, withClaim("iat", nil), ""), d.Event), "", recordedNow, 401},
		{"another audience", body(f.sign(t, withClaim("aud", []string{"evil.example"}), ""), d.Event), "", recordedNow, 401},
		{"alg none", body(parts[0][:0]+base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))+"."+parts[1]+".", d.Event), "", recordedNow, 401},
		{"event differs from evt", body(d.Token, "session.create.flow"), "", recordedNow, 400},
		{"no token", body("", d.Event), "", recordedNow, 400},
		{"no event", body(d.Token, ""), "", recordedNow, 400},
		{"not JSON", []byte("token=" + d.Token), "", recordedNow, 400},
		{"form content type", logout, "application/x-www-form-urlencoded", recordedNow, 415},
		{"huge body", []byte(`{"token":"` + strings.Repeat("a", 300<<10) + `"}`), "", recordedNow, 413},
		{"session data without expires_at", body(f.sign(t, withClaim("data", map[string]any{"id": "5b35d505-63a7-42c3-8458-709718aaa3bd"}), ""), d.Event), "", recordedNow, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.clock.Set(tc.now)
			ctype := tc.ctype
			if ctype == "" {
				ctype = "application/json"
			}
			w := f.post(t, tc.body, ctype)
			if w.Code != tc.status {
				t.Fatalf("status %d (%s), want %d", w.Code, strings.TrimSpace(w.Body.String()), tc.status)
			}
			if strings.Contains(w.Body.String(), "eyJ") || w.Body.Len() > 100 {
				t.Fatalf("answer %q", w.Body)
			}
			if st := f.v.Stats(); st.Revocations != 0 {
				t.Fatalf("a refused delivery revoked something")
			}
		})
	}
	f.clock.Set(recordedNow)
	r := httptest.NewRequest(http.MethodGet, webhook.DefaultPath, nil)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" {
		t.Fatalf("GET: %d %v", w.Code, w.Header())
	}
	// The real delivery still works after all that.
	if w := f.post(t, logout, "application/json"); w.Code != http.StatusNoContent {
		t.Fatalf("the real delivery: %d %s", w.Code, w.Body)
	}
	rejected := 0
	for k, n := range f.results {
		if strings.HasSuffix(k, " rejected") {
			rejected += n
		}
	}
	if rejected != len(tests)+1 || f.results["session.delete.explicit.logout applied"] != 1 {
		t.Errorf("results: %v", f.results)
	}
}

func flip(sig string) string {
	b, _ := base64.RawURLEncoding.DecodeString(sig)
	b[len(b)/2] ^= 1
	return base64.RawURLEncoding.EncodeToString(b)
}
