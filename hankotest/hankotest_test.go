package hankotest_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hankoauth/hankoauth/hankotest"
)

// validation is an answer of /sessions/validate.
type validation struct {
	IsValid bool `json:"is_valid"`
	Claims  struct {
		Subject    string    `json:"subject"`
		SessionID  string    `json:"session_id"`
		Expiration time.Time `json:"expiration"`
		IssuedAt   time.Time `json:"issued_at"`
		Audience   []string  `json:"audience"`
		Issuer     string    `json:"issuer"`
		Email      *struct {
			Address    string `json:"address"`
			IsPrimary  bool   `json:"is_primary"`
			IsVerified bool   `json:"is_verified"`
		} `json:"email"`
		Username string   `json:"username"`
		AMR      []string `json:"amr"`
	} `json:"claims"`
	ExpirationTime time.Time  `json:"expiration_time"`
	UserID         string     `json:"user_id"`
	IdleExpiresAt  *time.Time `json:"idle_expires_at"`

	raw    []byte
	header http.Header
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func decodeValidation(t *testing.T, resp *http.Response, body []byte) validation {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var v validation
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	v.raw, v.header = body, resp.Header
	return v
}

func postValidate(t *testing.T, srv *hankotest.Server, token string) validation {
	t.Helper()
	body, err := json.Marshal(map[string]string{"session_token": token})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/sessions/validate", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, b := do(t, req)
	return decodeValidation(t, resp, b)
}

func getValidate(t *testing.T, srv *hankotest.Server, token string) validation {
	t.Helper()
	return getWith(t, srv, "Authorization", "Bearer "+token)
}

func getWith(t *testing.T, srv *hankotest.Server, kv ...string) validation {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/sessions/validate", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	resp, b := do(t, req)
	return decodeValidation(t, resp, b)
}

func TestMintValidatePost(t *testing.T) {
	clock := newClock()
	srv := hankotest.NewServer(hankotest.WithClock(clock.Now), hankotest.WithIssuer("https://auth.example.com"),
		hankotest.WithAudience("example.com", "api"))
	defer srv.Close()
	notVerified := false
	m := srv.MustMint(t, hankotest.Session{
		Email: "alice@example.com", EmailVerified: &notVerified, Username: "alice",
		AMR: []string{"pwd", "otp"}, Claims: map[string]any{"role": "admin", "sub": "ignored"},
	})
	if !uuidRE.MatchString(m.UserID) || !uuidRE.MatchString(m.SessionID) {
		t.Fatalf("ids %q, %q are not UUIDs", m.UserID, m.SessionID)
	}
	if want := time.Unix(clock.Now().Add(12*time.Hour).Unix(), 0).UTC(); !m.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", m.ExpiresAt, want)
	}

	// The token is shaped like Hanko's.
	parts := strings.Split(m.Token, ".")
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if want := `{"alg":"RS256","kid":"` + srv.KeyID() + `","typ":"JWT"}`; string(header) != want {
		t.Errorf("header = %s, want %s", header, want)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	iat := float64(clock.Now().Unix())
	wantClaims := map[string]any{
		"sub": m.UserID, "session_id": m.SessionID, "aud": []any{"example.com", "api"},
		"iat": iat, "exp": iat + 12*3600, "iss": "https://auth.example.com",
		"email":    map[string]any{"address": "alice@example.com", "is_primary": true, "is_verified": false},
		"username": "alice", "amr": []any{"pwd", "otp"}, "role": "admin",
	}
	if diff := cmp.Diff(wantClaims, claims); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}

	v := postValidate(t, srv, m.Token)
	if !v.IsValid || v.Claims.Subject != m.UserID || v.UserID != m.UserID || v.Claims.SessionID != m.SessionID ||
		v.Claims.Issuer != "https://auth.example.com" || v.Claims.Username != "alice" ||
		v.Claims.Email == nil || v.Claims.Email.IsVerified || !v.Claims.Email.IsPrimary ||
		!v.ExpirationTime.Equal(m.ExpiresAt) || v.IdleExpiresAt != nil {
		t.Errorf("validation = %s", v.raw)
	}
	// Claims are flattened in alphabetical order, as Hanko's map does it.
	want := `{"is_valid":true,"claims":{"amr":["pwd","otp"],"audience":["example.com","api"],` +
		`"email":{"address":"alice@example.com","is_primary":true,"is_verified":false},` +
		`"expiration":"2026-11-28T01:28:34Z","issued_at":"2026-11-27T13:28:34Z","issuer":"https://auth.example.com",` +
		`"role":"admin","session_id":"` + m.SessionID + `","subject":"` + m.UserID + `","username":"alice"},` +
		`"expiration_time":"2026-11-28T01:28:34Z","user_id":"` + m.UserID + `"}` + "\n"
	if diff := cmp.Diff(want, string(v.raw)); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
}

func TestMintRejectsBadUserID(t *testing.T) {
	h, err := hankotest.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Mint(hankotest.Session{UserID: "alice"}); err == nil {
		t.Error("Mint accepted a user id that is not a UUID")
	}
}

func TestValidateGet(t *testing.T) {
	srv := hankotest.NewServer(hankotest.WithCookieName("sess"))
	defer srv.Close()
	m := srv.MustMint(t, hankotest.Session{Email: "bob@example.com"})
	valid := func(v validation) bool { return v.IsValid && v.Claims.SessionID == m.SessionID }

	for _, tc := range []struct {
		name string
		kv   []string
		want bool
	}{
		{"bearer", []string{"Authorization", "Bearer " + m.Token}, true},
		{"lowercase scheme", []string{"Authorization", "bearer " + m.Token}, true},
		{"cookie", []string{"Cookie", "sess=" + m.Token}, true},
		{"default cookie name unused", []string{"Cookie", "hanko=" + m.Token}, false},
		{"invalid bearer, valid cookie", []string{"Authorization", "Bearer not-a-jwt", "Cookie", "sess=" + m.Token}, true},
		{"second Authorization value", []string{"Authorization", "Basic Zm9vOmJhcg==", "Authorization", "Bearer " + m.Token}, true},
		{"X-Auth-Token ignored", []string{"X-Auth-Token", m.Token}, false},
		{"no scheme", []string{"Authorization", m.Token}, false},
		{"no credentials", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := valid(getWith(t, srv, tc.kv...)); got != tc.want {
				t.Errorf("valid = %v, want %v", got, tc.want)
			}
		})
	}

	_, body := do(t, mustRequest(t, http.MethodGet, srv.URL+"/sessions/validate?session_token="+m.Token, "", ""))
	if string(body) != `{"is_valid":false}`+"\n" {
		t.Errorf("query parameter: %s", body)
	}
}

func TestRevoke(t *testing.T) {
	srv := hankotest.NewServer()
	defer srv.Close()
	m := srv.MustMint(t, hankotest.Session{})
	other := srv.MustMint(t, hankotest.Session{UserID: m.UserID})
	if !postValidate(t, srv, m.Token).IsValid {
		t.Fatal("fresh token invalid")
	}
	if !srv.Revoke(m.SessionID) {
		t.Fatal("Revoke = false for a live session")
	}
	if srv.Revoke(m.SessionID) {
		t.Error("second Revoke = true")
	}
	if v := postValidate(t, srv, m.Token); v.IsValid || string(v.raw) != `{"is_valid":false}`+"\n" {
		t.Errorf("POST after revoke: %s", v.raw)
	}
	if getValidate(t, srv, m.Token).IsValid {
		t.Error("GET after revoke: valid")
	}
	if !postValidate(t, srv, other.Token).IsValid {
		t.Error("another session of the same user was revoked too")
	}
}

// TestIdleTimeout replays 08-timeline.json with a fake clock.
func TestIdleTimeout(t *testing.T) {
	clock := newClock()
	srv := hankotest.NewServer(hankotest.WithClock(clock.Now), hankotest.WithSessionLifetime(time.Minute),
		hankotest.WithIdleTimeout(30*time.Second))
	defer srv.Close()
	login := clock.Now()
	tP := srv.MustMint(t, hankotest.Session{}) // kept alive by POST
	tG := srv.MustMint(t, hankotest.Session{}) // only GET-validated
	tA := srv.MustMint(t, hankotest.Session{}) // untouched
	at := func(v validation, want time.Time) {
		t.Helper()
		if !v.IsValid {
			t.Fatalf("invalid: %s", v.raw)
		}
		if v.IdleExpiresAt == nil || !v.IdleExpiresAt.Equal(want) {
			t.Errorf("idle_expires_at = %v, want %v", v.IdleExpiresAt, want)
		}
	}

	at(postValidate(t, srv, tP.Token), login.Add(30*time.Second)) // nanoseconds, like Hanko's POST
	at(getValidate(t, srv, tG.Token), login.Round(time.Microsecond).Add(30*time.Second))

	clock.Advance(20 * time.Second)
	at(postValidate(t, srv, tP.Token), login.Add(50*time.Second))
	at(getValidate(t, srv, tG.Token), login.Round(time.Microsecond).Add(30*time.Second)) // GET did not refresh

	clock.Advance(16 * time.Second)
	if v := postValidate(t, srv, tA.Token); v.IsValid {
		t.Errorf("untouched session valid at t+36")
	}
	if v := getValidate(t, srv, tG.Token); v.IsValid {
		t.Errorf("GET-validated session valid at t+36")
	} else if c := v.header.Get("Set-Cookie"); !strings.HasPrefix(c, "hanko=; Path=/; Max-Age=0") {
		t.Errorf("Set-Cookie = %q, want the session cookie deleted", c)
	}
	at(postValidate(t, srv, tP.Token), tP.ExpiresAt) // capped at exp

	// An idled-out session is deleted: it stays invalid without the timeout.
	srv.SetIdleTimeout(0)
	if postValidate(t, srv, tA.Token).IsValid {
		t.Error("idled-out session came back")
	}
	if v := postValidate(t, srv, tP.Token); !v.IsValid || v.IdleExpiresAt != nil {
		t.Errorf("without idle timeout: %s", v.raw)
	}

	clock.Advance(25200 * time.Millisecond) // t+61.2
	if postValidate(t, srv, tP.Token).IsValid || getValidate(t, srv, tP.Token).IsValid {
		t.Error("expired token valid")
	}
}

func TestRotateKey(t *testing.T) {
	srv := hankotest.NewServer()
	defer srv.Close()
	oldKid := srv.KeyID()
	old := srv.MustMint(t, hankotest.Session{})
	newKid, err := srv.RotateKey()
	if err != nil {
		t.Fatal(err)
	}
	if newKid == oldKid || srv.KeyID() != newKid {
		t.Fatalf("KeyID = %q after rotating from %q to %q", srv.KeyID(), oldKid, newKid)
	}
	fresh := srv.MustMint(t, hankotest.Session{})
	if kid := headerKid(t, fresh.Token); kid != newKid {
		t.Errorf("new token kid = %q, want %q", kid, newKid)
	}
	for _, tok := range []string{old.Token, fresh.Token} {
		if !postValidate(t, srv, tok).IsValid {
			t.Errorf("token with kid %s invalid after rotation", headerKid(t, tok))
		}
	}

	resp, body := do(t, mustRequest(t, http.MethodGet, srv.URL+"/.well-known/jwks.json", "", ""))
	if resp.Header.Get("Cache-Control") != "max-age=600" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", resp.Header)
	}
	if !bytes.Equal(bytes.TrimSuffix(body, []byte("\n")), srv.JWKS()) {
		t.Error("served JWKS differs from JWKS()")
	}
	var set struct {
		Keys []struct{ Kid, Alg, Use, Kty, E string }
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 || set.Keys[0].Kid != oldKid || set.Keys[1].Kid != newKid {
		t.Fatalf("JWKS keys %+v, want old then new", set.Keys)
	}
	for _, k := range set.Keys {
		if k.Alg != "RS256" || k.Use != "sig" || k.Kty != "RSA" || k.E != "AQAB" {
			t.Errorf("key %+v", k)
		}
	}
}

func headerKid(t *testing.T, tok string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

func mustRequest(t *testing.T, method, url, ctype, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return req
}

func TestFailures(t *testing.T) {
	srv := hankotest.NewServer()
	defer srv.Close()
	jwks := srv.URL + "/.well-known/jwks.json"

	srv.Fail(hankotest.EndpointJWKS, hankotest.Failure{Status: 503, Body: `{"code":503}`, Times: 2})
	for i := range 2 {
		resp, body := do(t, mustRequest(t, http.MethodGet, jwks, "", ""))
		if resp.StatusCode != 503 || string(body) != `{"code":503}` || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %d: %d %q %v", i, resp.StatusCode, body, resp.Header)
		}
	}
	if resp, _ := do(t, mustRequest(t, http.MethodGet, jwks, "", "")); resp.StatusCode != 200 {
		t.Errorf("after Times: status %d", resp.StatusCode)
	}

	// Other endpoints are unaffected.
	srv.Fail(hankotest.EndpointValidate, hankotest.Failure{Status: 500, Body: "boom"})
	if resp, _ := do(t, mustRequest(t, http.MethodGet, srv.URL+"/health/alive", "", "")); resp.StatusCode != 200 {
		t.Errorf("health: status %d", resp.StatusCode)
	}
	for range 3 {
		resp, body := do(t, mustRequest(t, http.MethodGet, srv.URL+"/sessions/validate", "", ""))
		if resp.StatusCode != 500 || string(body) != "boom" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("until cleared: %d %q", resp.StatusCode, body)
		}
	}
	srv.ClearFailures()
	if resp, _ := do(t, mustRequest(t, http.MethodGet, srv.URL+"/sessions/validate", "", "")); resp.StatusCode != 200 {
		t.Errorf("after ClearFailures: status %d", resp.StatusCode)
	}

	// A delay alone slows the real answer down.
	const delay = 150 * time.Millisecond
	srv.Fail(hankotest.EndpointJWKS, hankotest.Failure{Delay: delay, Times: 1})
	start := time.Now()
	resp, body := do(t, mustRequest(t, http.MethodGet, jwks, "", ""))
	if elapsed := time.Since(start); elapsed < delay || resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"keys"`)) {
		t.Errorf("delay: %v, %d %s", elapsed, resp.StatusCode, body)
	}

	// Drop closes the connection without an answer.
	srv.Fail(hankotest.EndpointValidate, hankotest.Failure{Drop: true, Times: 1})
	if _, err := srv.Client().Get(srv.URL + "/sessions/validate"); err == nil {
		t.Error("dropped request got an answer")
	}
	if resp, _ := do(t, mustRequest(t, http.MethodGet, srv.URL+"/sessions/validate", "", "")); resp.StatusCode != 200 {
		t.Errorf("after the drop: status %d", resp.StatusCode)
	}
}

func TestFailureDelayStopsOnClose(t *testing.T) {
	srv := hankotest.NewServer()
	srv.Fail(hankotest.EndpointJWKS, hankotest.Failure{Delay: time.Hour})
	done := make(chan error, 1)
	go func() {
		resp, err := srv.Client().Get(srv.URL + "/.well-known/jwks.json")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	for srv.Calls(hankotest.EndpointJWKS) == 0 {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for the injected delay")
	}
	<-done
}

func TestCalls(t *testing.T) {
	srv := hankotest.NewServer()
	defer srv.Close()
	m := srv.MustMint(t, hankotest.Session{})
	for range 3 {
		postValidate(t, srv, m.Token)
	}
	getValidate(t, srv, m.Token)
	do(t, mustRequest(t, http.MethodGet, srv.URL+"/.well-known/jwks.json", "", ""))
	do(t, mustRequest(t, http.MethodGet, srv.URL+"/health/ready", "", ""))
	do(t, mustRequest(t, http.MethodGet, srv.URL+"/nowhere", "", ""))
	want := map[hankotest.Endpoint]int{
		hankotest.EndpointValidate: 4, hankotest.EndpointJWKS: 1,
		hankotest.EndpointHealth: 1, hankotest.EndpointDevSessions: 0, "unknown": 0,
	}
	for e, n := range want {
		if got := srv.Calls(e); got != n {
			t.Errorf("Calls(%s) = %d, want %d", e, got, n)
		}
	}
	srv.ResetCalls()
	if got := srv.Calls(hankotest.EndpointValidate); got != 0 {
		t.Errorf("after ResetCalls: %d", got)
	}
}

func TestDevSessions(t *testing.T) {
	srv := hankotest.NewServer()
	defer srv.Close()
	create := func(body string) (int, map[string]string, []byte) {
		t.Helper()
		resp, b := do(t, mustRequest(t, http.MethodPost, srv.URL+"/dev/sessions", "application/json", body))
		var out map[string]string
		_ = json.Unmarshal(b, &out)
		return resp.StatusCode, out, b
	}

	status, out, b := create("")
	if status != 200 || !uuidRE.MatchString(out["user_id"]) || !uuidRE.MatchString(out["session_id"]) {
		t.Fatalf("empty body: %d %s", status, b)
	}
	if v := postValidate(t, srv, out["session_token"]); !v.IsValid || v.Claims.SessionID != out["session_id"] {
		t.Errorf("dev token: %s", v.raw)
	}

	const uid = "0227d571-009a-4cdb-9378-caeaefd071ec"
	status, out, b = create(`{"user_id":"` + uid + `","email":"alice@example.com"}`)
	if status != 200 || out["user_id"] != uid {
		t.Fatalf("with user: %d %s", status, b)
	}
	if !bytes.HasPrefix(b, []byte(`{"session_token":`)) {
		t.Errorf("member order: %s", b)
	}
	v := postValidate(t, srv, out["session_token"])
	if !v.IsValid || v.Claims.Subject != uid || v.Claims.Email == nil || v.Claims.Email.Address != "alice@example.com" {
		t.Errorf("dev token: %s", v.raw)
	}

	for _, body := range []string{`{"user_id":"alice"}`, `{"email":`, `[]`} {
		if status, _, b := create(body); status != 400 || !bytes.HasPrefix(b, []byte(`{"code":400,"message":`)) {
			t.Errorf("%s: %d %s", body, status, b)
		}
	}

	del := func(id string) (int, []byte) {
		resp, b := do(t, mustRequest(t, http.MethodDelete, srv.URL+"/dev/sessions/"+id, "", ""))
		return resp.StatusCode, b
	}
	if status, b := del(out["session_id"]); status != 204 || len(b) != 0 {
		t.Errorf("DELETE: %d %s", status, b)
	}
	if postValidate(t, srv, out["session_token"]).IsValid {
		t.Error("deleted session still valid")
	}
	if status, b := del(out["session_id"]); status != 404 || string(b) != `{"code":404,"message":"Not Found"}`+"\n" {
		t.Errorf("DELETE again: %d %s", status, b)
	}
	if resp, b := do(t, mustRequest(t, http.MethodGet, srv.URL+"/dev/sessions", "", "")); resp.StatusCode != 405 {
		t.Errorf("GET /dev/sessions: %d %s", resp.StatusCode, b)
	}
}

func TestRouting(t *testing.T) {
	srv := hankotest.NewServer()
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/health/alive", 200, `{"alive":true}`},
		{"GET", "/health/ready", 200, `{"ready":true}`},
		{"GET", "/.well-known/config", 404, `{"code":404,"message":"Not Found"}`},
		{"GET", "/sessions/validate/", 404, `{"code":404,"message":"Not Found"}`},
		{"PUT", "/sessions/validate", 405, `{"code":405,"message":"Method Not Allowed"}`},
		{"POST", "/.well-known/jwks.json", 405, `{"code":405,"message":"Method Not Allowed"}`},
		{"HEAD", "/.well-known/jwks.json", 405, ``},
	} {
		resp, body := do(t, mustRequest(t, tc.method, srv.URL+tc.path, "", ""))
		want := tc.body
		if want != "" {
			want += "\n"
		}
		if resp.StatusCode != tc.status || string(body) != want {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, body, tc.status, want)
		}
	}
}

func TestValidatePostBody(t *testing.T) {
	srv := hankotest.NewServer()
	defer srv.Close()
	m := srv.MustMint(t, hankotest.Session{})
	const required = `{"code":400,"message":"code=400, message=session_token is a required field"}`
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		want              string
	}{
		{"valid", "application/json", `{"session_token":"` + m.Token + `"}`, 200, ""},
		{"charset", "application/json; charset=utf-8", `{"session_token":"` + m.Token + `"}`, 200, ""},
		{"leading space in token", "application/json", `{"session_token":"  ` + m.Token + `"}`, 200, ""},
		{"case-insensitive member", "application/json", `{"Session_Token":"` + m.Token + `"}`, 200, ""},
		{"empty object", "application/json", `{}`, 400, required},
		{"whitespace only", "application/json", ` `, 400, `{"code":400,"message":"EOF"}`},
		{"array", "application/json", `[]`, 400, `{"code":400,"message":"Unmarshal type error: expected=dto.ValidateSessionRequest, got=array, field=, offset=1"}`},
		{"syntax", "application/json", `{"session_token": x}`, 400, `{"code":400,"message":"Syntax error: offset=19, error=invalid character 'x' looking for beginning of value"}`},
		{"content type case", "Application/JSON", `{}`, 415, `{"code":415,"message":"Unsupported Media Type"}`},
		{"no content type", "", `{}`, 415, `{"code":415,"message":"Unsupported Media Type"}`},
		{"text/plain without body", "text/plain", ``, 400, required},
		{"multipart", "multipart/form-data", `x`, 400, `{"code":400,"message":"no multipart boundary param in Content-Type"}`},
		{"too large", "application/json", `{"session_token":"` + strings.Repeat("a", 70<<10) + `"}`, 413, `{"code":413,"message":"Request Entity Too Large"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, mustRequest(t, http.MethodPost, srv.URL+"/sessions/validate", tc.ctype, tc.body))
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.want != "" && string(body) != tc.want+"\n" {
				t.Errorf("body %s, want %s", body, tc.want)
			}
			if tc.status == 200 && !bytes.HasPrefix(body, []byte(`{"is_valid":true`)) {
				t.Errorf("body %s", body)
			}
		})
	}
}

func TestCraftedTokens(t *testing.T) {
	clock := newClock()
	srv := hankotest.NewServer(hankotest.WithClock(clock.Now))
	defer srv.Close()
	m := srv.MustMint(t, hankotest.Session{})
	now := clock.Now().Unix()
	sign := func(claims map[string]any) string {
		t.Helper()
		tok, err := srv.Sign(claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	base := func(extra map[string]any) map[string]any {
		c := map[string]any{"sub": m.UserID, "session_id": m.SessionID, "aud": []string{"localhost"}, "iat": now, "exp": now + 60}
		for k, v := range extra {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}

	t.Run("no exp is accepted, like Hanko", func(t *testing.T) {
		v := postValidate(t, srv, sign(base(map[string]any{"exp": nil})))
		if !v.IsValid || !v.Claims.Expiration.Equal(time.Time{}) || !strings.Contains(string(v.raw), `"expiration":"0001-01-01T00:00:00Z"`) {
			t.Errorf("%s", v.raw)
		}
	})
	t.Run("aud and iss are not checked, like Hanko", func(t *testing.T) {
		if v := postValidate(t, srv, sign(base(map[string]any{"aud": "elsewhere", "iss": "evil"}))); !v.IsValid || v.Claims.Issuer != "evil" {
			t.Errorf("%s", v.raw)
		}
	})
	t.Run("custom claims override, like Hanko's flattening", func(t *testing.T) {
		v := postValidate(t, srv, sign(base(map[string]any{"subject": "x", "n": 1.5})))
		if !v.IsValid || v.Claims.Subject != "x" || !strings.Contains(string(v.raw), `"n":1.5`) {
			t.Errorf("%s", v.raw)
		}
	})
	for name, claims := range map[string]map[string]any{
		"expired":           base(map[string]any{"exp": now}),
		"iat in the future": base(map[string]any{"iat": now + 1}),
		"nbf in the future": base(map[string]any{"nbf": now + 1}),
		"exp not a number":  base(map[string]any{"exp": "tomorrow"}),
		"unknown session":   base(map[string]any{"session_id": "7a14fa80-6328-4fe0-b9d5-00d0bd5861cb"}),
		"webhook-like (UUID sub, no session_id)": {"sub": m.UserID, "evt": "session.create.flow", "aud": []string{"localhost"},
			"iat": now, "exp": now + 300, "data": map[string]any{"id": m.SessionID}},
	} {
		t.Run(name+" is invalid", func(t *testing.T) {
			if v := postValidate(t, srv, sign(claims)); v.IsValid {
				t.Errorf("%s", v.raw)
			}
		})
	}
	t.Run("Hanko webhook token is a 400", func(t *testing.T) {
		// sub "hanko webhooks" is not a UUID: Hanko answers 400.
		tok := sign(map[string]any{"sub": "hanko webhooks", "evt": "user.create", "aud": []string{"localhost"}, "iat": now, "exp": now + 300})
		resp, body := do(t, mustRequest(t, http.MethodPost, srv.URL+"/sessions/validate", "application/json", `{"session_token":"`+tok+`"}`))
		if resp.StatusCode != 400 || !bytes.HasPrefix(body, []byte(`{"code":400,"message":"failed to parse token claims: 'subject' is not a uuid`)) {
			t.Errorf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("header forgeries", func(t *testing.T) {
		parts := strings.Split(m.Token, ".")
		for name, header := range map[string]string{
			"alg none":    `{"alg":"none","kid":"` + srv.KeyID() + `","typ":"JWT"}`,
			"alg RS384":   `{"alg":"RS384","kid":"` + srv.KeyID() + `","typ":"JWT"}`,
			"no kid":      `{"alg":"RS256","typ":"JWT"}`,
			"unknown kid": `{"alg":"RS256","kid":"11111111-2222-4333-8444-555555555555","typ":"JWT"}`,
		} {
			tok := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + parts[1] + "." + parts[2]
			if v := postValidate(t, srv, tok); v.IsValid {
				t.Errorf("%s: valid", name)
			}
		}
	})
}

// modulus returns the base64 modulus of each key in srv's JWKS.
func modulus(t *testing.T, srv *hankotest.Server) []string {
	t.Helper()
	var set struct{ Keys []struct{ N string } }
	if err := json.Unmarshal(srv.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.N)
	}
	return out
}

// Keys are RSA-4096 by default, as Hanko's, and generated once per
// process: two fakes share their first key (under different kids),
// RotateKey gives each the next key of the process, WithFreshKeys keys of
// its own, WithSigningKey the given one.
func TestSigningKeys(t *testing.T) {
	a, b := hankotest.NewTB(t), hankotest.NewTB(t)
	ka, kb := modulus(t, a), modulus(t, b)
	if len(ka) != 1 || len(ka[0]) != 683 { // 512 bytes, as in 00-jwks
		t.Fatalf("default key: %d keys, modulus of %d base64 bytes; want one 4096-bit key", len(ka), len(ka[0]))
	}
	if ka[0] != kb[0] || a.KeyID() == b.KeyID() {
		t.Errorf("two fakes: same key %v, same kid %v; want the same key under different kids", ka[0] == kb[0], a.KeyID() == b.KeyID())
	}
	if _, err := a.RotateKey(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.RotateKey(); err != nil {
		t.Fatal(err)
	}
	ka, kb = modulus(t, a), modulus(t, b)
	if len(ka) != 2 || ka[1] == ka[0] || ka[1] != kb[1] {
		t.Errorf("after RotateKey: a new key, shared by the process's fakes, expected")
	}
	m := a.MustMint(t, hankotest.Session{})
	if !postValidate(t, a, m.Token).IsValid {
		t.Error("token of the rotated key invalid")
	}

	small := hankotest.NewTB(t, hankotest.WithKeyBits(2048))
	if k := modulus(t, small); len(k[0]) != 342 {
		t.Errorf("WithKeyBits(2048): modulus of %d base64 bytes", len(k[0]))
	}
	fresh := hankotest.NewTB(t, hankotest.WithKeyBits(2048), hankotest.WithFreshKeys())
	if modulus(t, fresh)[0] == modulus(t, small)[0] {
		t.Error("WithFreshKeys shares the process's key")
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	own := hankotest.NewTB(t, hankotest.WithSigningKey(key))
	if got := modulus(t, own)[0]; got != base64.RawURLEncoding.EncodeToString(key.N.Bytes()) {
		t.Error("WithSigningKey: the JWKS does not carry the given key")
	}
	m = own.MustMint(t, hankotest.Session{})
	if !postValidate(t, own, m.Token).IsValid {
		t.Error("token of the given key invalid")
	}
}

// NewTB closes the fake when the test ends.
func TestNewTBCloses(t *testing.T) {
	var srv *hankotest.Server
	t.Run("inner", func(t *testing.T) { srv = hankotest.NewTB(t, hankotest.WithKeyBits(2048)) })
	if _, err := http.Get(srv.URL + "/.well-known/jwks.json"); err == nil {
		t.Error("the fake still answers after its test ended")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for name, opt := range map[string]hankotest.Option{
		"lifetime":    hankotest.WithSessionLifetime(0),
		"idle":        hankotest.WithIdleTimeout(-time.Second),
		"audience":    hankotest.WithAudience(),
		"cookie":      hankotest.WithCookieName(""),
		"clock":       hankotest.WithClock(nil),
		"bits":        hankotest.WithKeyBits(1024),
		"small key":   hankotest.WithSigningKey(smallKey(t)),
		"jwks maxage": hankotest.WithJWKSMaxAge(-time.Second),
	} {
		if _, err := hankotest.New(opt); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := hankotest.New(hankotest.WithJWKSMaxAge(time.Minute)); err != nil {
		t.Error(err)
	}
}

func TestJWKSMaxAge(t *testing.T) {
	h, err := hankotest.New(hankotest.WithJWKSMaxAge(90 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	if got := rec.Header().Get("Cache-Control"); got != "max-age=90" {
		t.Errorf("Cache-Control = %q", got)
	}
}

func smallKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
