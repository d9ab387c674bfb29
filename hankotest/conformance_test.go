package hankotest_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hankoauth/hankoauth/hankotest"
)

const fixtures = "../testdata/hanko/fixtures"

// fakeClock is a settable clock for WithClock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 27, 13, 28, 34, 904723665, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// replayEnv is what a conformance case's hooks can act on.
type replayEnv struct {
	t      *testing.T
	srv    *hankotest.Server
	clock  *fakeClock
	token  string           // the minted substitute of the recorded token, if any
	minted hankotest.Minted // and its session
}

// post and get replay the timeline of 08-timeline.json around a fixture.
func (e *replayEnv) post() { e.t.Helper(); postValidate(e.t, e.srv, e.token) }
func (e *replayEnv) get()  { e.t.Helper(); getValidate(e.t, e.srv, e.token) }

// conformanceCase says how to replay one recorded exchange.
type conformanceCase struct {
	// skip, when set, is why the exchange is not replayed.
	skip string
	// mint replaces each Hanko-signed JWT of the request by a token that
	// the fake mints for an equivalent session (same sub, email, amr,
	// lifetime). Without it the request is sent byte for byte, so the
	// recorded tokens, signed by real Hanko's keys, must be rejected.
	mint bool
	// setup runs before minting, before runs after minting and before the
	// request is sent.
	setup, before func(*replayEnv)
}

var (
	notFlows = "Hanko's login flows are not faked (Mint and POST /dev/sessions replace them)"
	notAdmin = "Hanko's admin API is not faked (Mint, Revoke and /dev/sessions replace it)"
	notUser  = "Hanko's user API (/me, /logout) is not faked (Revoke replaces logout)"
	notCORS  = "CORS is not faked: the fake has no allowed-origins configuration"
)

// conformanceCases has one entry per recorded exchange in fixtures; the test
// fails for a fixture without an entry, so nothing is skipped silently.
var conformanceCases = map[string]conformanceCase{
	"00-cors-preflight-disallowed-origin":  {skip: notCORS},
	"00-cors-preflight-sessions-validate":  {skip: notCORS},
	"00-jwks-with-origin":                  {},
	"00-jwks":                              {},
	"00-public-health-alive":               {},
	"00-public-health-ready":               {},
	"00-wellknown-config":                  {},
	"00-wellknown-openid-configuration":    {},
	"02a-login-password-04-password_login": {skip: notFlows},
	"02c-admin-mint-session":               {skip: notAdmin},

	"04-post-validate-alg-hs256-confusion":          {},
	"04-post-validate-alg-none":                     {},
	"04-post-validate-bearer-prefix-in-body":        {mint: true},
	"04-post-validate-cookie-only-no-body-token":    {mint: true},
	"04-post-validate-empty-object":                 {},
	"04-post-validate-empty-token":                  {},
	"04-post-validate-extra-fields":                 {mint: true},
	"04-post-validate-foreign-key-random-kid":       {},
	"04-post-validate-foreign-key-same-kid":         {},
	"04-post-validate-form-urlencoded":              {mint: true},
	"04-post-validate-garbage-3-segments":           {},
	"04-post-validate-garbage":                      {},
	"04-post-validate-json-null":                    {},
	"04-post-validate-malformed-json":               {},
	"04-post-validate-missing-body-no-content-type": {},
	"04-post-validate-missing-body":                 {},
	"04-post-validate-tampered-payload":             {},
	"04-post-validate-tampered-signature":           {},
	"04-post-validate-text-plain":                   {mint: true},
	"04-post-validate-valid-admin-minted":           {mint: true},
	"04-post-validate-valid-no-origin":              {mint: true},
	"04-post-validate-valid-passcode-token":         {mint: true},
	"04-post-validate-valid":                        {mint: true},
	"04-post-validate-wrong-field-name":             {mint: true},
	"04-post-validate-wrong-type-number":            {},

	"05-get-me-bearer":                            {skip: notUser},
	"05-get-me-no-credentials":                    {skip: notUser},
	"05-get-validate-bearer-lowercase-scheme":     {mint: true},
	"05-get-validate-bearer":                      {mint: true},
	"05-get-validate-cookie":                      {mint: true},
	"05-get-validate-garbage-bearer":              {},
	"05-get-validate-garbage-cookie":              {},
	"05-get-validate-invalid-bearer-valid-cookie": {mint: true},
	"05-get-validate-no-credentials":              {},
	"05-get-validate-query-param":                 {mint: true},
	"05-get-validate-tampered-signature-bearer":   {},
	"05-get-validate-x-auth-token-header":         {mint: true},

	"06-rate-limit-probe-last-of-40": {},

	"07a-get-validate-after-logout-cookie":    {mint: true, before: revoke},
	"07a-logout-again":                        {skip: notUser},
	"07a-logout":                              {skip: notUser},
	"07a-post-validate-after-logout":          {mint: true, before: revoke},
	"07b-admin-delete-session-again":          {skip: notAdmin},
	"07b-admin-delete-session":                {skip: notAdmin},
	"07b-admin-list-sessions-after":           {skip: notAdmin},
	"07b-admin-list-sessions-before":          {skip: notAdmin},
	"07b-post-validate-after-admin-delete":    {mint: true, before: revoke},
	"07c-post-validate-unrevoked-still-valid": {mint: true},

	// 08-timeline.json: port 8010 has 60 s sessions and a 30 s idle
	// timeout (set from the Host header below); t is seconds since login.
	"08-get-validate-expired": {mint: true, before: func(e *replayEnv) { // tP kept alive by POSTs
		e.clock.Advance(20 * time.Second)
		e.post()
		e.clock.Advance(16 * time.Second)
		e.post()
		e.clock.Advance(19 * time.Second)
		e.post()
		e.clock.Advance(6200 * time.Millisecond)
	}},
	"08-get-validate-fresh-with-idle-timeout": {mint: true},
	"08-get-validate-idle-expired-despite-get": {mint: true, before: func(e *replayEnv) {
		e.get()
		e.clock.Advance(20 * time.Second)
		e.get()
		e.clock.Advance(16 * time.Second)
	}},
	"08-get-validate-t20": {mint: true, before: func(e *replayEnv) {
		e.get()
		e.clock.Advance(20 * time.Second)
	}},
	"08-post-validate-expired-on-main-instance": {mint: true, before: func(e *replayEnv) {
		e.clock.Advance(61200 * time.Millisecond)
	}},
	"08-post-validate-expired": {mint: true, before: func(e *replayEnv) {
		e.clock.Advance(20 * time.Second)
		e.post()
		e.clock.Advance(16 * time.Second)
		e.post()
		e.clock.Advance(19 * time.Second)
		e.post()
		e.clock.Advance(6200 * time.Millisecond)
	}},
	"08-post-validate-fresh-with-idle-timeout": {mint: true},
	"08-post-validate-idle-expired": {mint: true, before: func(e *replayEnv) {
		e.clock.Advance(36 * time.Second)
	}},
	"08-post-validate-short-token-on-main-instance": {mint: true},
	"08-post-validate-t20-keepalive": {mint: true, before: func(e *replayEnv) {
		e.post()
		e.clock.Advance(20 * time.Second)
	}},
	"08-post-validate-t36-keepalive": {mint: true, before: func(e *replayEnv) {
		e.clock.Advance(20 * time.Second)
		e.post()
		e.clock.Advance(16 * time.Second)
	}},
	"08-post-validate-t55-keepalive": {mint: true, before: func(e *replayEnv) {
		e.clock.Advance(20 * time.Second)
		e.post()
		e.clock.Advance(16 * time.Second)
		e.post()
		e.clock.Advance(19 * time.Second)
	}},
	"08-short-login-x-auth-token-04-password_login": {skip: notFlows},

	"09-admin-mint-session-bad-user-id":                           {skip: notAdmin},
	"09-admin-mint-session-unknown-user":                          {skip: notAdmin},
	"09-other-deployment-admin-create-user":                       {skip: notAdmin},
	"09-other-deployment-admin-mint-session":                      {skip: notAdmin},
	"09-other-deployment-jwks":                                    {},
	"09-post-validate-other-deployment-token-on-its-own-instance": {mint: true},
	"09-post-validate-other-deployment-token-on-main":             {},

	"11-rotation-admin-mint-new-token":    {skip: notAdmin},
	"11-rotation-jwks-two-keys":           {setup: rotate},
	"11-rotation-post-validate-new-token": {mint: true, setup: rotate},
	"11-rotation-post-validate-old-token": {mint: true, before: rotate},
}

func revoke(e *replayEnv) {
	if !e.srv.Revoke(e.minted.SessionID) {
		e.t.Fatal("Revoke: no such session")
	}
}

func rotate(e *replayEnv) {
	if _, err := e.srv.RotateKey(); err != nil {
		e.t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	names, err := filepath.Glob(filepath.Join(fixtures, "*.request.http"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	seen := make(map[string]bool)
	for _, path := range names {
		name := strings.TrimSuffix(filepath.Base(path), ".request.http")
		seen[name] = true
		tc, ok := conformanceCases[name]
		if !ok {
			t.Errorf("fixture %s has no conformance case: add one (or a skip with its reason)", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			replay(t, name, tc)
		})
	}
	for name := range conformanceCases {
		if !seen[name] {
			t.Errorf("conformance case %s has no fixture", name)
		}
	}
}

var jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+`)

func replay(t *testing.T, name string, tc conformanceCase) {
	req := readFixture(t, name+".request.http")
	want := readFixture(t, name+".response.http")

	clock := newClock()
	opts := []hankotest.Option{hankotest.WithClock(clock.Now)}
	if bytes.Contains(req, []byte("\r\nHost: 127.0.0.1:8010\r\n")) {
		opts = append(opts, hankotest.WithIdleTimeout(30*time.Second))
	}
	srv := hankotest.NewServer(opts...)
	defer srv.Close()
	env := &replayEnv{t: t, srv: srv, clock: clock}
	if tc.setup != nil {
		tc.setup(env)
	}

	var minted []hankotest.Minted
	if tc.mint {
		subst := make(map[string]string)
		for _, tok := range jwtRE.FindAllString(string(req), -1) {
			if _, ok := subst[tok]; ok {
				continue
			}
			m := srv.MustMint(t, equivalentSession(t, tok))
			subst[tok] = m.Token
			minted = append(minted, m)
			env.token, env.minted = m.Token, m
		}
		if len(minted) == 0 {
			t.Fatal("mint: the request carries no token")
		}
		req = jwtRE.ReplaceAllFunc(req, func(b []byte) []byte { return []byte(subst[string(b)]) })
		req = fixContentLength(t, req)
	}
	if tc.before != nil {
		tc.before(env)
	}

	got := sendRaw(t, srv, req)
	wantResp := parseResponse(t, want)
	gotResp := parseResponse(t, got)

	if gotResp.status != wantResp.status {
		t.Errorf("status = %d, want %d\nbody: %s", gotResp.status, wantResp.status, gotResp.body)
	}
	for _, h := range []string{"Content-Type", "Cache-Control", "Vary"} {
		if w := wantResp.header.Get(h); w != "" && gotResp.header.Get(h) != w {
			t.Errorf("%s = %q, want %q", h, gotResp.header.Get(h), w)
		}
	}
	if len(wantResp.body) == 0 {
		if len(gotResp.body) != 0 {
			t.Errorf("body = %q, want none", gotResp.body)
		}
		return
	}
	if exactBody(t, wantResp.body) {
		if diff := cmp.Diff(string(wantResp.body), string(gotResp.body)); diff != "" {
			t.Errorf("body (-recorded +fake):\n%s", diff)
		}
		return
	}
	ws, gs := jsonShape(t, wantResp.body), jsonShape(t, gotResp.body)
	if diff := cmp.Diff(ws, gs); diff != "" {
		t.Errorf("JSON shape (-recorded +fake):\n%s\nbody: %s", diff, gotResp.body)
	}
	checkMintedValues(t, gotResp.body, minted)
}

// equivalentSession describes the session behind a recorded token.
func equivalentSession(t *testing.T, tok string) hankotest.Session {
	t.Helper()
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Sub   string
		Email *struct {
			Address    string
			IsVerified bool `json:"is_verified"`
		}
		Username string
		AMR      []string
		IAT, EXP int64
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	s := hankotest.Session{UserID: c.Sub, Username: c.Username, AMR: c.AMR, Lifetime: time.Duration(c.EXP-c.IAT) * time.Second}
	if c.Email != nil {
		s.Email, s.EmailVerified = c.Email.Address, &c.Email.IsVerified
	}
	return s
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixContentLength sets Content-Length to the length of the (edited) body.
func fixContentLength(t *testing.T, req []byte) []byte {
	t.Helper()
	head, body, ok := bytes.Cut(req, []byte("\r\n\r\n"))
	if !ok {
		t.Fatal("request without header end")
	}
	re := regexp.MustCompile(`(?m)^Content-Length: \d+\r$`)
	head = re.ReplaceAll(head, []byte("Content-Length: "+strconv.Itoa(len(body))+"\r"))
	return slices.Concat(head, []byte("\r\n\r\n"), body)
}

// sendRaw writes the raw request to the server and returns the raw answer.
func sendRaw(t *testing.T, srv *hankotest.Server, req []byte) []byte {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func parseResponse(t *testing.T, raw []byte) response {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("reading response: %v\n%s", err, raw)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// exactBody reports whether a recorded body depends on nothing but the
// request (errors, {"is_valid":false}, health), so that the fake must
// answer it byte for byte.
func exactBody(t *testing.T, body []byte) bool {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("recorded body is not a JSON object: %v", err)
	}
	for k := range m {
		switch k {
		case "code", "message", "is_valid", "alive", "ready":
		default:
			return false
		}
	}
	return true
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// jsonShape renders a JSON document's structure: members in order, arrays
// element by element, and for scalars their kind (strings: uuid, time in
// RFC 3339, or string).
func jsonShape(t *testing.T, b []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var sb strings.Builder
	if err := shapeValue(dec, &sb, ""); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	return sb.String()
}

func shapeValue(dec *json.Decoder, sb *strings.Builder, indent string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		closing := map[json.Delim]string{'{': "}", '[': "]"}[v]
		sb.WriteString(v.String() + "\n")
		for dec.More() {
			sb.WriteString(indent + "  ")
			if v == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				sb.WriteString(k.(string) + ": ")
			}
			if err := shapeValue(dec, sb, indent+"  "); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		sb.WriteString(indent + closing + "\n")
	case string:
		switch _, terr := time.Parse(time.RFC3339Nano, v); {
		case uuidRE.MatchString(v):
			sb.WriteString("uuid\n")
		case terr == nil:
			sb.WriteString("time\n")
		default:
			sb.WriteString("string\n")
		}
	case json.Number:
		sb.WriteString("number\n")
	case bool:
		sb.WriteString("bool\n")
	case nil:
		sb.WriteString("null\n")
	}
	return nil
}

// checkMintedValues checks that a valid answer is about the minted session.
func checkMintedValues(t *testing.T, body []byte, minted []hankotest.Minted) {
	t.Helper()
	var r validation
	if err := json.Unmarshal(body, &r); err != nil || !r.IsValid {
		return
	}
	for _, m := range minted {
		if r.Claims.SessionID == m.SessionID {
			if r.Claims.Subject != m.UserID || r.UserID != m.UserID {
				t.Errorf("subject %q, user_id %q; want %q", r.Claims.Subject, r.UserID, m.UserID)
			}
			if !r.Claims.Expiration.Equal(m.ExpiresAt) || !r.ExpirationTime.Equal(m.ExpiresAt) {
				t.Errorf("expiration %v, expiration_time %v; want %v", r.Claims.Expiration, r.ExpirationTime, m.ExpiresAt)
			}
			return
		}
	}
	t.Errorf("valid answer for session %q, which was not minted for this request", r.Claims.SessionID)
}
