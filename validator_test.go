package hankoauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// clock is a settable clock for tests.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock    { c := &clock{}; c.ns.Store(t.UnixNano()); return c }
func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// recordedHanko answers like the recorded Hanko: the recorded JWKS, and
// for POST /sessions/validate a recorded (or test-chosen) answer.
type recordedHanko struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	body   []byte
	delay  time.Duration
	drop   bool
	calls  atomic.Int64
	tokens []string // tokens received, in order
}

func newRecordedHanko(t testing.TB) *recordedHanko {
	t.Helper()
	h := &recordedHanko{status: http.StatusOK, body: fixtureBody(t, "04-post-validate-valid")}
	jwks := fixtureBody(t, "00-jwks")
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/jwks.json":
			w.Header().Set("Cache-Control", "max-age=600")
			_, _ = w.Write(jwks)
		case "/sessions/validate":
			h.calls.Add(1)
			if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
				w.WriteHeader(http.StatusUnsupportedMediaType)
				return
			}
			var req struct {
				SessionToken string `json:"session_token"`
			}
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			h.mu.Lock()
			h.tokens = append(h.tokens, req.SessionToken)
			status, body, delay, drop := h.status, h.body, h.delay, h.drop
			h.mu.Unlock()
			time.Sleep(delay)
			if drop {
				conn, _, _ := w.(http.Hijacker).Hijack()
				conn.Close()
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write(body)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *recordedHanko) answer(status int, body []byte) {
	h.mu.Lock()
	h.status, h.body = status, body
	h.mu.Unlock()
}

func (h *recordedHanko) set(f func(h *recordedHanko)) {
	h.mu.Lock()
	f(h)
	h.mu.Unlock()
}

func newHybrid(t testing.TB, h *recordedHanko, clk *clock, mod func(*Config)) *Validator {
	t.Helper()
	cfg := Config{APIURL: h.URL, Now: clk.Now, RevalidateAfter: 15 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	if cfg.Mode != ModeRemote {
		waitReady(t, v)
	}
	return v
}

func TestHybridCachesAndRevalidates(t *testing.T) {
	h := newRecordedHanko(t)
	clk := newClock(fixtureClock)
	v := newHybrid(t, h, clk, nil)
	token := fixtureToken(t, "03-token-valid.jwt")
	ctx := context.Background()

	s, err := v.Validate(ctx, token)
	if err != nil || s.SessionID != "7a14fa80-6328-4fe0-b9d5-00d0bd5861cb" {
		t.Fatalf("first: %+v, %v", s, err)
	}
	if got := h.calls.Load(); got != 1 {
		t.Fatalf("hanko calls = %d, want 1", got)
	}
	if h.tokens[0] != token {
		t.Fatal("hanko did not receive the token intact")
	}
	clk.Add(14 * time.Second)
	if _, err := v.Validate(ctx, token); err != nil || h.calls.Load() != 1 {
		t.Fatalf("within RevalidateAfter: err %v, calls %d", err, h.calls.Load())
	}
	clk.Add(2 * time.Second)
	if _, err := v.Validate(ctx, token); err != nil || h.calls.Load() != 2 {
		t.Fatalf("after RevalidateAfter: err %v, calls %d", err, h.calls.Load())
	}

	// Logout at Hanko: the next revalidation sees it, and from then on
	// the session is rejected without asking Hanko again, until exp.
	h.answer(http.StatusOK, fixtureBody(t, "07a-post-validate-after-logout"))
	clk.Add(16 * time.Second)
	if _, err := v.Validate(ctx, token); !errors.Is(err, ErrRevoked) || ReasonOf(err) != ReasonRevoked {
		t.Fatalf("after logout: %v", err)
	}
	h.answer(http.StatusOK, fixtureBody(t, "04-post-validate-valid"))
	for range 3 {
		clk.Add(time.Hour)
		if _, err := v.Validate(ctx, token); !errors.Is(err, ErrRevoked) {
			t.Fatalf("revoked session accepted again: %v", err)
		}
	}
	if got := h.calls.Load(); got != 3 {
		t.Fatalf("hanko calls = %d, want 3", got)
	}
}

func TestHybridIdleExpiryCapsTrust(t *testing.T) {
	h := newRecordedHanko(t)
	clk := newClock(fixtureClock)
	v := newHybrid(t, h, clk, nil)
	body := fmt.Sprintf(`{"is_valid":true,"claims":{"subject":"0227d571-009a-4cdb-9378-caeaefd071ec","session_id":"7a14fa80-6328-4fe0-b9d5-00d0bd5861cb","expiration":"2026-11-28T01:28:03Z","issued_at":"2026-11-27T13:28:03Z"},"idle_expires_at":%q}`,
		fixtureClock.Add(5*time.Second).Format(time.RFC3339Nano))
	h.answer(http.StatusOK, []byte(body))
	token := fixtureToken(t, "03-token-valid.jwt")
	s, err := v.Validate(context.Background(), token)
	if err != nil || !s.IdleExpiresAt.Equal(fixtureClock.Add(5*time.Second)) {
		t.Fatalf("%+v, %v", s, err)
	}
	clk.Add(6 * time.Second)
	if _, err := v.Validate(context.Background(), token); err != nil || h.calls.Load() != 2 {
		t.Fatalf("idle_expires_at did not cap the cache: calls %d, err %v", h.calls.Load(), err)
	}
}

func TestHybridHankoAnswers(t *testing.T) {
	token := fixtureToken(t, "03-token-valid.jwt")
	other := `{"is_valid":true,"claims":{"subject":"fe2ab2f8-a88b-4baa-b37a-9f4c89db7dcd","session_id":"7a14fa80-6328-4fe0-b9d5-00d0bd5861cb","expiration":"2026-11-28T01:28:03Z"}}`
	tests := []struct {
		name    string
		set     func(h *recordedHanko)
		wantErr error
		reason  Reason
	}{
		{"valid", func(h *recordedHanko) {}, nil, ReasonOK},
		{"is_valid false", func(h *recordedHanko) { h.body = fixtureBody(t, "07b-post-validate-after-admin-delete") }, ErrRevoked, ReasonRevoked},
		{"idle expired", func(h *recordedHanko) { h.body = fixtureBody(t, "08-post-validate-idle-expired") }, ErrRevoked, ReasonRevoked},
		{"another subject", func(h *recordedHanko) { h.body = []byte(other) }, ErrSessionMismatch, ReasonMismatch},
		{"400", func(h *recordedHanko) { h.status, h.body = 400, fixtureBody(t, "04-post-validate-empty-token") }, ErrMalformed, ReasonTokenMalformed},
		{"415", func(h *recordedHanko) { h.status, h.body = 415, fixtureBody(t, "04-post-validate-text-plain") }, ErrUnavailable, ReasonUnavailable},
		{"500", func(h *recordedHanko) {
			h.status, h.body = 500, []byte(`{"code":500,"message":"Internal Server Error"}`)
		}, ErrUnavailable, ReasonUnavailable},
		{"503 html", func(h *recordedHanko) { h.status, h.body = 503, []byte(`<html>down</html>`) }, ErrUnavailable, ReasonUnavailable},
		{"200 not json", func(h *recordedHanko) { h.body = []byte(`<html>proxy</html>`) }, ErrUnavailable, ReasonUnavailable},
		{"200 without is_valid", func(h *recordedHanko) { h.body = []byte(`{}`) }, ErrUnavailable, ReasonUnavailable},
		{"valid without claims", func(h *recordedHanko) { h.body = []byte(`{"is_valid":true}`) }, ErrUnavailable, ReasonUnavailable},
		{"valid without expiration", func(h *recordedHanko) {
			h.body = []byte(`{"is_valid":true,"claims":{"subject":"0227d571-009a-4cdb-9378-caeaefd071ec","session_id":"7a14fa80-6328-4fe0-b9d5-00d0bd5861cb"}}`)
		}, ErrUnavailable, ReasonUnavailable},
		{"answer too large", func(h *recordedHanko) {
			h.body = []byte(`{"is_valid":false,"x":"` + strings.Repeat("a", maxValidateBytes) + `"}`)
		}, ErrUnavailable, ReasonUnavailable},
		{"connection dropped", func(h *recordedHanko) { h.drop = true }, ErrUnavailable, ReasonUnavailable},
		{"timeout", func(h *recordedHanko) { h.delay = 300 * time.Millisecond }, ErrUnavailable, ReasonUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newRecordedHanko(t)
			h.set(tt.set)
			v := newHybrid(t, h, newClock(fixtureClock), func(c *Config) { c.RequestTimeout = 100 * time.Millisecond })
			s, err := v.Validate(context.Background(), token)
			if ReasonOf(err) != tt.reason {
				t.Fatalf("reason = %s (err %v), want %s", ReasonOf(err), err, tt.reason)
			}
			if tt.wantErr == nil {
				if err != nil || s == nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || s != nil {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), token) {
				t.Fatal("error carries the token")
			}
		})
	}
}

func TestConcurrentValidationsShareOneCall(t *testing.T) {
	h := newRecordedHanko(t)
	h.set(func(h *recordedHanko) { h.delay = 100 * time.Millisecond })
	v := newHybrid(t, h, newClock(fixtureClock), nil)
	token := fixtureToken(t, "03-token-valid.jwt")
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			_, err := v.Validate(context.Background(), token)
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := h.calls.Load(); got != 1 {
		t.Fatalf("%d concurrent validations made %d hanko calls, want 1", n, got)
	}
}

func TestCallerCancellationDoesNotCancelSharedWork(t *testing.T) {
	h := newRecordedHanko(t)
	h.set(func(h *recordedHanko) { h.delay = 200 * time.Millisecond })
	v := newHybrid(t, h, newClock(fixtureClock), nil)
	token := fixtureToken(t, "03-token-valid.jwt")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := v.Validate(context.Background(), token)
		done <- err
	}()
	_, err := v.Validate(ctx, token)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrUnavailable) || ReasonOf(err) != ReasonCanceled {
		t.Fatalf("impatient caller: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("patient caller: %v", err)
	}
	if h.calls.Load() != 1 {
		t.Fatalf("calls = %d", h.calls.Load())
	}
}

func TestRevokeSession(t *testing.T) {
	h := newRecordedHanko(t)
	clk := newClock(fixtureClock)
	v := newHybrid(t, h, clk, nil)
	token := fixtureToken(t, "03-token-valid.jwt")
	if _, err := v.Validate(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	if err := v.RevokeSession("no-such-session", clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := v.RevokeSession("7a14fa80-6328-4fe0-b9d5-00d0bd5861cb", clk.Now().Add(12*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Validate(context.Background(), token); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after RevokeSession: %v", err)
	}
	// Still rejected after the cache entry's time, though Hanko (the
	// recording) still says valid: the revocation is remembered.
	clk.Add(time.Minute)
	if _, err := v.Validate(context.Background(), token); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after RevokeSession and revalidation: %v", err)
	}
	if st := v.Stats(); st.Revocations != 2 || st.Keys != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestNoTokenAndTooLong(t *testing.T) {
	h := newRecordedHanko(t)
	v := newHybrid(t, h, newClock(fixtureClock), nil)
	if _, err := v.Validate(context.Background(), ""); !errors.Is(err, ErrNoToken) || ReasonOf(err) != ReasonTokenMissing {
		t.Fatalf("empty: %v", err)
	}
	if _, err := v.Validate(context.Background(), strings.Repeat("a", MaxTokenLength+1)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("long: %v", err)
	}
	if h.calls.Load() != 0 {
		t.Fatal("garbage reached hanko")
	}
}

func TestRemoteMode(t *testing.T) {
	h := newRecordedHanko(t)
	clk := newClock(fixtureClock)
	v := newHybrid(t, h, clk, func(c *Config) { c.Mode = ModeRemote })
	waitReady(t, v)
	ctx := context.Background()
	// Cheap checks first: garbage, alg none, expired and webhook-like
	// tokens never reach Hanko.
	for _, name := range []string{"04-post-validate-garbage", "04-post-validate-alg-none", "04-post-validate-garbage-3-segments"} {
		if _, err := v.Validate(ctx, fixtureToken(t, name)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := v.Validate(ctx, fixtureToken(t, "08-token-short-lived.jwt")); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	if h.calls.Load() != 0 {
		t.Fatalf("garbage reached hanko %d times", h.calls.Load())
	}
	token := fixtureToken(t, "03-token-valid.jwt")
	s, err := v.Validate(ctx, token)
	if err != nil || s.UserID != "0227d571-009a-4cdb-9378-caeaefd071ec" || s.Email.Address != "alice@example.com" || !s.HasAMR("pwd") {
		t.Fatalf("%+v, %v", s, err)
	}
	var c struct {
		Subject string `json:"subject"`
	}
	if err := s.Claims(&c); err != nil || c.Subject != s.UserID {
		t.Fatalf("claims: %+v %v", c, err)
	}
	// A forged token with a well-formed structure is judged by Hanko.
	h.answer(http.StatusOK, fixtureBody(t, "04-post-validate-tampered-signature"))
	if _, err := v.Validate(ctx, fixtureToken(t, "04-post-validate-tampered-signature")); !errors.Is(err, ErrRejected) {
		t.Fatalf("tampered: %v", err)
	}
}

func TestNotReadyWhileHankoIsDown(t *testing.T) {
	ks := newKeyServer(t, []byte(`{"code":500}`))
	ks.set([]byte(`{"code":500,"message":"Internal Server Error"}`), 500)
	v, err := New(Config{APIURL: ks.URL, Mode: ModeLocal, Now: fixedNow, KeyRefreshMin: time.Second})
	if err != nil {
		t.Fatalf("New must not fail while Hanko is down: %v", err)
	}
	defer v.Close()
	time.Sleep(50 * time.Millisecond)
	if err := v.Ready(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Ready = %v", err)
	}
	if _, err := v.Validate(context.Background(), fixtureToken(t, "03-token-valid.jwt")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Validate without keys: %v", err)
	}
	ks.set(fixtureBody(t, "00-jwks"), 200)
	waitReady(t, v) // the background retry picks it up
	if _, err := v.Validate(context.Background(), fixtureToken(t, "03-token-valid.jwt")); err != nil {
		t.Fatal(err)
	}
}

// signer makes tokens with a key of the test's own.
type signer struct {
	kid string
	alg jose.SignatureAlgorithm
	key any
	pub any
}

func newRSASigner(t testing.TB, bits int) signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return signer{kid: fmt.Sprintf("rsa-%d", bits), alg: jose.RS256, key: k, pub: &k.PublicKey}
}

func (s signer) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: s.pub, KeyID: s.kid, Algorithm: string(s.alg), Use: "sig"}
}

func jwksOf(t testing.TB, signers ...signer) []byte {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, s := range signers {
		set.Keys = append(set.Keys, s.jwk())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (s signer) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: s.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", s.kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func sessionClaims(now time.Time) map[string]any {
	return map[string]any{
		"sub": "0227d571-009a-4cdb-9378-caeaefd071ec", "session_id": "7a14fa80-6328-4fe0-b9d5-00d0bd5861cb",
		"aud": []string{"localhost"}, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func TestKeysAndClaims(t *testing.T) {
	rs := newRSASigner(t, 2048)
	weak := newRSASigner(t, 1024)
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	es := signer{kid: "ec", alg: jose.ES256, key: ek, pub: &ek.PublicKey}
	ks := newKeyServer(t, jwksOf(t, rs, weak, es))
	v := newLocal(t, ks, nil)
	now := fixtureClock
	without := func(k string) map[string]any { c := sessionClaims(now); delete(c, k); return c }
	with := func(k string, val any) map[string]any { c := sessionClaims(now); c[k] = val; return c }
	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{"RS256", rs.sign(t, sessionClaims(now)), nil},
		{"ES256 key published", es.sign(t, sessionClaims(now)), nil},
		{"weak RSA key ignored", weak.sign(t, sessionClaims(now)), ErrUnknownKey},
		{"RS256 token naming the EC key", signer{kid: "ec", alg: jose.RS256, key: rs.key}.sign(t, sessionClaims(now)), ErrBadSignature},
		{"PS256 token on an RS256 key", signer{kid: rs.kid, alg: jose.PS256, key: rs.key}.sign(t, sessionClaims(now)), ErrBadSignature},
		{"HS256 token", signer{kid: rs.kid, alg: jose.HS256, key: []byte("0123456789abcdef0123456789abcdef")}.sign(t, sessionClaims(now)), ErrMalformed},
		{"no kid", signer{alg: jose.RS256, key: rs.key}.sign(t, sessionClaims(now)), ErrUnknownKey},
		{"no exp (Hanko accepts it, we do not)", rs.sign(t, without("exp")), ErrMalformed},
		{"no session_id", rs.sign(t, without("session_id")), ErrNotSessionToken},
		{"no sub", rs.sign(t, without("sub")), ErrNotSessionToken},
		{"nbf in the future", rs.sign(t, with("nbf", now.Add(time.Minute).Unix())), ErrNotYetValid},
		{"nbf within leeway", rs.sign(t, with("nbf", now.Add(10*time.Second).Unix())), nil},
		{"aud as a string", rs.sign(t, with("aud", "localhost")), nil},
		{"exp as a string", rs.sign(t, with("exp", "tomorrow")), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Validate(context.Background(), tt.token)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestUnknownKidStormIsBounded(t *testing.T) {
	rs := newRSASigner(t, 2048)
	ks := newKeyServer(t, jwksOf(t, rs))
	v := newLocal(t, ks, func(c *Config) { c.KeyRefreshMin = time.Hour })
	var wg sync.WaitGroup
	for i := range 100 {
		tok := signer{kid: fmt.Sprintf("random-%d", i), alg: jose.RS256, key: rs.key}.sign(t, sessionClaims(fixtureClock))
		wg.Go(func() {
			// KEY_UNKNOWN once the refresh has answered; "retry" for
			// those the rate limit turned away (see
			// TestUnknownKidWhileRateLimitedIsUnavailable).
			if _, err := v.Validate(context.Background(), tok); !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrUnavailable) {
				t.Errorf("random kid: %v", err)
			}
		})
	}
	wg.Wait()
	// The initial load and at most one refresh on demand.
	if got := ks.fetches.Load(); got > 2 {
		t.Fatalf("%d JWKS fetches for 100 random kids, want at most 2", got)
	}
}

// TestUnknownKidWhileRateLimitedIsUnavailable: an attacker who spends the
// on-demand refresh on a random kid must not get the tokens of a key Hanko
// rotates in right after rejected as "log in again": they are "retry"
// (ErrUnavailable, not cached) until the next refresh, then valid.
func TestUnknownKidWhileRateLimitedIsUnavailable(t *testing.T) {
	old, next := newRSASigner(t, 2048), newRSASigner(t, 2048)
	next.kid = "next"
	ks := newKeyServer(t, jwksOf(t, old))
	clk := newClock(fixtureClock)
	v := newLocal(t, ks, func(c *Config) { c.KeyRefreshMin = time.Minute; c.Now = clk.Now })
	random := signer{kid: "random", alg: jose.RS256, key: old.key}.sign(t, sessionClaims(fixtureClock))
	if _, err := v.Validate(context.Background(), random); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("random kid after a fresh fetch: %v, want ErrUnknownKey", err)
	}
	ks.set(jwksOf(t, old, next), 200) // Hanko rotates
	rotated := next.sign(t, sessionClaims(fixtureClock))
	for range 3 {
		_, err := v.Validate(context.Background(), rotated)
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalidToken) {
			t.Fatalf("rotated kid while rate-limited: %v, want ErrUnavailable", err)
		}
	}
	clk.Add(time.Minute)
	if _, err := v.Validate(context.Background(), rotated); err != nil {
		t.Fatalf("rotated kid after the rate limit: %v", err)
	}
}

// TestJWKSDuplicateKid: a kid that several keys share is ambiguous and
// none of its keys is trusted, however many there are and whether or not
// the others are usable.
func TestJWKSDuplicateKid(t *testing.T) {
	a, b, c := newRSASigner(t, 2048), newRSASigner(t, 2048), newRSASigner(t, 2048)
	weak := newRSASigner(t, 1024)
	for _, k := range []*signer{&a, &b, &c, &weak} {
		k.kid = "dup"
	}
	other := newRSASigner(t, 2048)
	other.kid = "other"
	tests := []struct {
		name string
		set  []signer
	}{
		{"two keys", []signer{a, b}},
		{"three keys", []signer{a, b, c}},
		{"four keys", []signer{a, b, c, a}},
		{"the same key twice", []signer{a, a}},
		{"a weak key and a usable one", []signer{weak, a}},
		{"a usable key and a weak one", []signer{a, weak}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, skipped, err := parseJWKS(jwksOf(t, append(tt.set, other)...))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := keys["dup"]; ok {
				t.Fatalf("a duplicated kid is trusted (skipped: %q)", skipped)
			}
			if _, ok := keys["other"]; !ok {
				t.Fatal("the key with its own kid was dropped")
			}
		})
	}
}

func TestRotationPicksUpNewKeyOnDemand(t *testing.T) {
	old, next := newRSASigner(t, 2048), newRSASigner(t, 2048)
	next.kid = "next"
	ks := newKeyServer(t, jwksOf(t, old))
	v := newLocal(t, ks, nil)
	ks.set(jwksOf(t, old, next), 200)
	for _, s := range []signer{old, next} {
		if _, err := v.Validate(context.Background(), s.sign(t, sessionClaims(fixtureClock))); err != nil {
			t.Fatalf("%s: %v", s.kid, err)
		}
	}
}

func TestFailedRefreshKeepsLastGoodKeys(t *testing.T) {
	rs := newRSASigner(t, 2048)
	ks := newKeyServer(t, jwksOf(t, rs))
	v := newLocal(t, ks, func(c *Config) { c.CacheSize = -1 })
	ks.set([]byte("oops"), 500)
	if err := v.keys.refresh(context.Background(), false); err == nil {
		t.Fatal("refresh against a failing server succeeded")
	}
	ks.set([]byte(`{"keys":[]}`), 200)
	if err := v.keys.refresh(context.Background(), false); err == nil {
		t.Fatal("an empty key set was accepted")
	}
	if _, err := v.Validate(context.Background(), rs.sign(t, sessionClaims(fixtureClock))); err != nil {
		t.Fatalf("last good keys dropped: %v", err)
	}
	if v.Ready() != nil {
		t.Fatal("not ready after a failed refresh")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{APIURL: "hanko.example.com"},
		{APIURL: "ftp://hanko.example.com"},
		{APIURL: "https://hanko.example.com?x=1"},
		{APIURL: "https://user:pw@hanko.example.com"},
		{APIURL: "https://hanko.example.com", Mode: Mode(7)},
		{APIURL: "https://hanko.example.com", Leeway: -time.Second},
	} {
		if v, err := New(cfg); err == nil {
			v.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	for s, want := range map[string]Mode{"hybrid": ModeHybrid, "LOCAL": ModeLocal, "remote": ModeRemote} {
		if m, err := ParseMode(s); err != nil || m != want || (s != "LOCAL" && m.String() != s) {
			t.Errorf("ParseMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMode("sometimes"); err == nil {
		t.Error("ParseMode accepted nonsense")
	}
}

func TestHooks(t *testing.T) {
	h := newRecordedHanko(t)
	var mu sync.Mutex
	var paths []Path
	var hits, misses, hanko, refreshes int
	hooks := &Hooks{
		Validated: func(p Path, r Reason, _ time.Duration) { mu.Lock(); paths = append(paths, p); mu.Unlock() },
		CacheLookup: func(hit bool) {
			mu.Lock()
			defer mu.Unlock()
			if hit {
				hits++
			} else {
				misses++
			}
		},
		HankoRequest:  func(outcome string, _ time.Duration) { mu.Lock(); hanko++; mu.Unlock() },
		KeysRefreshed: func(outcome string, keys int) { mu.Lock(); refreshes++; mu.Unlock() },
	}
	v := newHybrid(t, h, newClock(fixtureClock), func(c *Config) { c.Hooks = hooks })
	token := fixtureToken(t, "03-token-valid.jwt")
	for range 3 {
		if _, err := v.Validate(context.Background(), token); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = v.Validate(context.Background(), "")
	mu.Lock()
	defer mu.Unlock()
	want := []Path{PathRemote, PathCache, PathCache, PathNone}
	if fmt.Sprint(paths) != fmt.Sprint(want) || hits != 2 || misses != 1 || hanko != 1 || refreshes < 1 {
		t.Fatalf("paths %v hits %d misses %d hanko %d refreshes %d", paths, hits, misses, hanko, refreshes)
	}
}

func TestRequestsFailFastWhileJWKSIsDown(t *testing.T) {
	ks := newKeyServer(t, nil)
	ks.set([]byte(`{"code":500,"message":"Internal Server Error"}`), 500)
	v, err := New(Config{APIURL: ks.URL, Mode: ModeLocal, Now: fixedNow, KeyRefreshMin: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	token := fixtureToken(t, "03-token-valid.jwt")
	for range 50 {
		if _, err := v.Validate(context.Background(), token); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
	}
	// The start-up fetch, perhaps one retry of the loop, and one on demand.
	if got := ks.fetches.Load(); got > 3 {
		t.Fatalf("%d JWKS fetches for 50 requests while Hanko is down", got)
	}
}

func TestCloseWaitsForFetchUnderWay(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(500)
	}))
	defer srv.Close()
	defer close(release)
	var after atomic.Bool
	var closed atomic.Bool
	v, err := New(Config{APIURL: srv.URL, Mode: ModeLocal, Hooks: &Hooks{KeysRefreshed: func(string, int) {
		if closed.Load() {
			after.Store(true)
		}
	}}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the first fetch is under way
	v.Close()
	closed.Store(true)
	time.Sleep(50 * time.Millisecond)
	if after.Load() {
		t.Fatal("a hook ran after Close returned")
	}
}

// The background refresh follows Hanko's Cache-Control max-age (floored
// at KeyRefreshMin), on a fake clock: a synctest bubble and an in-memory
// Hanko.
func TestBackgroundRefreshFollowsMaxAge(t *testing.T) {
	old, next := newRSASigner(t, 2048), newRSASigner(t, 2048)
	next.kid = "next"
	oldSet, nextSet := jwksOf(t, old), jwksOf(t, next)
	synctest.Test(t, func(t *testing.T) {
		var rotated atomic.Bool
		var fetches atomic.Int64
		client := &http.Client{Transport: handlerTransport(func(w http.ResponseWriter, _ *http.Request) {
			fetches.Add(1)
			w.Header().Set("Cache-Control", "public, max-age=60")
			if rotated.Load() {
				_, _ = w.Write(nextSet)
				return
			}
			_, _ = w.Write(oldSet)
		})}
		v, err := New(Config{APIURL: "http://hanko.test", Mode: ModeLocal, Now: fixedNow, HTTPClient: client, KeyRefreshMin: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		if err := v.WaitReady(t.Context()); err != nil {
			t.Fatal(err)
		}
		rotated.Store(true) // Hanko rotated and dropped the old key
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if n := fetches.Load(); n != 1 {
			t.Fatalf("%d fetches before max-age passed, want 1", n)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := fetches.Load(); n != 2 {
			t.Fatalf("%d fetches once max-age passed, want 2", n)
		}
		if _, ok := v.keys.lookup("next"); !ok {
			t.Fatal("the new key is not in use after the refresh")
		}
		if _, ok := v.keys.lookup(old.kid); ok {
			t.Fatal("a key Hanko dropped is still in use after the refresh")
		}
	})
}
