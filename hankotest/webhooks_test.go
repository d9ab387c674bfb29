package hankotest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
)

const recordedWebhooks = "../testdata/hanko/webhooks"

// received is one delivery as the receiver saw it.
type received struct {
	header http.Header
	method string
	body   []byte
}

// sink records deliveries and answers 204.
type sink struct {
	*httptest.Server
	mu   sync.Mutex
	got  []received
	seen chan struct{}
}

func newSink(t *testing.T) *sink {
	s := &sink{seen: make(chan struct{}, 100)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.got = append(s.got, received{header: r.Header.Clone(), method: r.Method, body: b})
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.Close)
	return s
}

// keysOf lists the members of a JSON object in their order.
func keysOf(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", b)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// jwtParts decodes a compact JWS's header and payload.
func jwtParts(t *testing.T, token string) (header, payload []byte) {
	t.Helper()
	p := strings.Split(token, ".")
	if len(p) != 3 {
		t.Fatalf("not a JWS: %q", token)
	}
	h, err := base64.RawURLEncoding.DecodeString(p[0])
	if err != nil {
		t.Fatal(err)
	}
	c, err := base64.RawURLEncoding.DecodeString(p[1])
	if err != nil {
		t.Fatal(err)
	}
	return h, c
}

// recordedDelivery reads the recorded delivery of event.
func recordedDelivery(t *testing.T, event string) (body []byte, meta struct{ Headers [][2]string }) {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(recordedWebhooks, "*-"+event+".body.json"))
	if len(names) == 0 {
		t.Fatalf("no recorded %s", event)
	}
	body, err := os.ReadFile(names[0])
	if err != nil {
		t.Fatal(err)
	}
	m, err := os.ReadFile(strings.TrimSuffix(names[0], ".body.json") + ".meta.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(m, &meta); err != nil {
		t.Fatal(err)
	}
	return body, meta
}

// TestWebhookConformance makes the fake send every event it can, and
// compares each delivery with the one real Hanko sent for the same event
// (for user.delete, which was not recorded, with Hanko's shape of a user
// event): request, body members and their order, JWT header and claims,
// data members and their order, exp - iat, and the signature (through
// hankoauth's own webhook verification).
func TestWebhookConformance(t *testing.T) {
	clk := &webhookClock{now: time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC)}
	rx := newSink(t)
	srv := hankotest.NewServer(hankotest.WithWebhook(rx.URL+"/hook"), hankotest.WithSessionLimit(2),
		hankotest.WithIdleTimeout(time.Hour), hankotest.WithClock(clk.Now))
	defer srv.Close()

	a := srv.MustMint(t, hankotest.Session{})                 // session.create.admin
	b := srv.MustMint(t, hankotest.Session{UserID: a.UserID}) // session.create.admin
	c := srv.MustMint(t, hankotest.Session{UserID: a.UserID}) // evicts a: session.delete.passive.limit
	srv.Revoke(b.SessionID)                                   // session.delete.admin.revoke
	srv.Logout(c.SessionID)                                   // session.delete.explicit.logout
	d := srv.MustMint(t, hankotest.Session{})                 // session.create.admin
	clk.Add(2 * time.Hour)                                    // d idles out...
	resp, err := http.Post(srv.URL+"/sessions/validate", "application/json", strings.NewReader(`{"session_token":"`+d.Token+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // ...when presented: session.delete.passive.expire
	e := srv.MustMint(t, hankotest.Session{})
	if n, err := srv.DeleteUser(e.UserID); err != nil || n != 1 { // user.delete, no session event
		t.Fatalf("DeleteUser: %d, %v", n, err)
	}
	srv.WaitWebhooks()

	vclk := &webhookClock{} // set to each token's iat
	v, err := hankoauth.New(hankoauth.Config{APIURL: srv.URL, Mode: hankoauth.ModeLocal, Now: vclk.Now, Audience: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()

	counts := map[string]int{}
	rx.mu.Lock()
	got := rx.got
	rx.mu.Unlock()
	for _, r := range got {
		var body struct{ Token, Event string }
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		counts[body.Event]++
		t.Run(body.Event, func(t *testing.T) {
			if r.method != http.MethodPost || r.header.Get("Content-Type") != "application/json" || r.header.Get("User-Agent") != "Go-http-client/1.1" {
				t.Errorf("request: %s %v", r.method, r.header)
			}
			if k := keysOf(t, r.body); !reflect.DeepEqual(k, []string{"token", "event"}) {
				t.Errorf("body members %v", k)
			}
			event := body.Event
			if event == hankotest.EventUserDelete {
				event = "user.create" // the closest recorded shape: a user
			}
			recBody, _ := recordedDelivery(t, event)
			var rec struct{ Token string }
			if err := json.Unmarshal(recBody, &rec); err != nil {
				t.Fatal(err)
			}
			gh, gc := jwtParts(t, body.Token)
			rh, rc := jwtParts(t, rec.Token)
			if !reflect.DeepEqual(keysOf(t, gh), keysOf(t, rh)) {
				t.Errorf("header members %v, recorded %v", keysOf(t, gh), keysOf(t, rh))
			}
			var hdr map[string]string
			_ = json.Unmarshal(gh, &hdr)
			if hdr["alg"] != "RS256" || hdr["typ"] != "JWT" || hdr["kid"] != srv.KeyID() {
				t.Errorf("header %v", hdr)
			}
			if !reflect.DeepEqual(keysOf(t, gc), keysOf(t, rc)) {
				t.Errorf("claims members %v, recorded %v", keysOf(t, gc), keysOf(t, rc))
			}
			var claims struct {
				Sub  string          `json:"sub"`
				Evt  string          `json:"evt"`
				Aud  []string        `json:"aud"`
				Iat  int64           `json:"iat"`
				Exp  int64           `json:"exp"`
				Data json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(gc, &claims); err != nil {
				t.Fatal(err)
			}
			if claims.Sub != "hanko webhooks" || claims.Evt != body.Event || claims.Exp-claims.Iat != 300 ||
				!reflect.DeepEqual(claims.Aud, []string{"localhost"}) {
				t.Errorf("claims %s", gc)
			}
			var recClaims struct{ Data json.RawMessage }
			_ = json.Unmarshal(rc, &recClaims)
			want := keysOf(t, recClaims.Data)
			if event == "user.create" {
				want = []string{"id", "created_at", "updated_at"} // Hanko's user minus what the fake has not
			}
			if g := keysOf(t, claims.Data); !reflect.DeepEqual(g, want) {
				t.Errorf("data members %v, want %v", g, want)
			}
			vclk.Set(time.Unix(claims.Iat, 0))
			wh, err := v.VerifyWebhook(context.Background(), body.Token)
			if err != nil || wh.Event != body.Event {
				t.Errorf("VerifyWebhook: %v", err)
			}
		})
	}
	want := map[string]int{
		"session.create.admin": 5, "session.delete.passive.limit": 1, "session.delete.admin.revoke": 1,
		"session.delete.explicit.logout": 1, "session.delete.passive.expire": 1, "user.delete": 1,
	}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("events %v, want %v", counts, want)
	}
	for _, d := range srv.Deliveries() {
		if d.Err != nil || d.Status != http.StatusNoContent {
			t.Errorf("delivery %+v", d)
		}
	}
}

// TestWebhookFilters: a hook gets only the events it subscribed to, and
// a receiver that fails loses the event (Hanko never retries).
func TestWebhookFilters(t *testing.T) {
	rx := newSink(t)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer failing.Close()
	srv := hankotest.NewServer(hankotest.WithWebhook(rx.URL, "session.delete", "user.delete"), hankotest.WithWebhook(failing.URL, "session"))
	defer srv.Close()
	m := srv.MustMint(t, hankotest.Session{})
	srv.Revoke(m.SessionID)
	srv.WaitWebhooks()
	rx.mu.Lock()
	n := len(rx.got)
	rx.mu.Unlock()
	if n != 1 {
		t.Fatalf("filtered hook got %d deliveries, want 1 (the delete)", n)
	}
	failed := 0
	for _, d := range srv.Deliveries() {
		if d.URL == failing.URL && d.Status == 500 {
			failed++
		}
	}
	if failed != 2 || len(srv.Deliveries()) != 3 {
		t.Fatalf("deliveries %+v", srv.Deliveries())
	}
}

type webhookClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *webhookClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *webhookClock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }
func (c *webhookClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
