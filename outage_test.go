package hankoauth_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
)

// testClock is a settable clock.
type testClock struct{ ns atomic.Int64 }

func (c *testClock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// outageFixture is a fake Hanko and a hybrid validator with a settable
// clock, counting the outage decisions.
type outageFixture struct {
	srv     *hankotest.Server
	v       *hankoauth.Validator
	clk     *testClock
	log     *syncBuffer
	mu      sync.Mutex
	allowed map[bool]int
}

func newOutageFixture(t *testing.T, policy hankoauth.OutagePolicy, cacheSize int) *outageFixture {
	t.Helper()
	f := &outageFixture{srv: hankotest.NewServer(), clk: &testClock{}, log: &syncBuffer{}, allowed: map[bool]int{}}
	t.Cleanup(f.srv.Close)
	f.clk.ns.Store(time.Now().UnixNano())
	v, err := hankoauth.New(hankoauth.Config{
		APIURL:          f.srv.URL,
		Outage:          policy,
		OutageGrace:     10 * time.Minute,
		RevalidateAfter: 15 * time.Second,
		CacheSize:       cacheSize,
		Now:             f.clk.Now,
		Logger:          slog.New(slog.NewTextHandler(f.log, nil)),
		Hooks: &hankoauth.Hooks{OutageDecision: func(p hankoauth.OutagePolicy, allowed bool) {
			if p != policy {
				t.Errorf("hook got policy %v, want %v", p, policy)
			}
			f.mu.Lock()
			f.allowed[allowed]++
			f.mu.Unlock()
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	f.v = v
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for v.Ready() != nil {
		if ctx.Err() != nil {
			t.Fatal("validator not ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return f
}

// check validates tok and compares the outcome with want: "ok", or the
// reason code.
func (f *outageFixture) check(t *testing.T, what, tok string, want hankoauth.Reason) {
	t.Helper()
	_, err := f.v.Validate(t.Context(), tok)
	if got := hankoauth.ReasonOf(err); got != want {
		t.Errorf("%s: %s (%v), want %s", what, got, err, want)
	}
}

func (f *outageFixture) counts() (allow, deny int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.allowed[true], f.allowed[false]
}

func TestOutagePolicies(t *testing.T) {
	const ok, down = hankoauth.ReasonOK, hankoauth.ReasonUnavailable
	for _, tc := range []struct {
		policy                  hankoauth.OutagePolicy
		known, fresh, afterLong hankoauth.Reason // during the outage: a confirmed session, a new one, the confirmed one after the grace period
		allow, deny             int
	}{
		{hankoauth.OutageDeny, down, down, down, 0, 4}, // denials are not cached
		{hankoauth.OutageStale, ok, down, down, 1, 2},
		{hankoauth.OutageLocal, ok, ok, ok, 3, 0},
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			f := newOutageFixture(t, tc.policy, 0)
			known := f.srv.MustMint(t, hankotest.Session{})
			f.check(t, "before the outage", known.Token, ok)
			if f.v.Outage().Degraded() {
				t.Fatal("degraded while Hanko answers")
			}

			f.srv.Fail(hankotest.EndpointValidate, hankotest.Failure{Status: 503})
			f.clk.Add(20 * time.Second) // past RevalidateAfter
			fresh := f.srv.MustMint(t, hankotest.Session{})
			f.check(t, "confirmed session", known.Token, tc.known)
			f.check(t, "new session", fresh.Token, tc.fresh)
			st := f.v.Outage()
			if !st.Degraded() || st.Policy != tc.policy || st.Grace != 10*time.Minute {
				t.Errorf("outage status %+v", st)
			}
			// Cached: no second decision within RevalidateAfter.
			f.check(t, "confirmed session again", known.Token, tc.known)

			f.clk.Add(11 * time.Minute)
			f.check(t, "confirmed session after the grace period", known.Token, tc.afterLong)
			if allow, deny := f.counts(); allow != tc.allow || deny != tc.deny {
				t.Errorf("decisions: %d allowed, %d denied; want %d, %d", allow, deny, tc.allow, tc.deny)
			}
			// Logged once per session, however often decided.
			if n := strings.Count(f.log.String(), "session_id="+known.SessionID); n != 1 {
				t.Errorf("session logged %d times, want once:\n%s", n, f.log)
			}

			f.srv.ClearFailures()
			f.clk.Add(20 * time.Second)
			f.check(t, "after the outage", known.Token, ok)
			f.check(t, "new session after the outage", fresh.Token, ok)
			if f.v.Outage().Degraded() {
				t.Error("still degraded after Hanko answered")
			}
			if !strings.Contains(f.log.String(), "hanko answers again") {
				t.Errorf("recovery not logged:\n%s", f.log)
			}
		})
	}
}

// Revocations known before or during the outage hold under stale.
func TestOutageStaleKeepsRevocations(t *testing.T) {
	f := newOutageFixture(t, hankoauth.OutageStale, 0)
	a := f.srv.MustMint(t, hankotest.Session{})
	b := f.srv.MustMint(t, hankotest.Session{})
	c := f.srv.MustMint(t, hankotest.Session{})
	f.check(t, "a", a.Token, hankoauth.ReasonOK)
	f.check(t, "b", b.Token, hankoauth.ReasonOK)
	f.check(t, "c", c.Token, hankoauth.ReasonOK)
	f.srv.Revoke(a.SessionID)
	f.clk.Add(20 * time.Second)
	f.check(t, "a revoked at Hanko", a.Token, hankoauth.ReasonRevoked)

	f.srv.Fail(hankotest.EndpointValidate, hankotest.Failure{Drop: true})
	f.clk.Add(20 * time.Second)
	f.check(t, "a during the outage", a.Token, hankoauth.ReasonRevoked)
	f.check(t, "b during the outage", b.Token, hankoauth.ReasonOK)
	if err := f.v.RevokeSession(b.SessionID, f.clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.check(t, "b revoked by id during the outage", b.Token, hankoauth.ReasonRevoked)
	// Revoked by id, then decided in the outage: the revocation wins over
	// its confirmation, so it stays out.
	if err := f.v.RevokeSession(c.SessionID, f.clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(20 * time.Second)
	f.check(t, "c revoked by id, then decided in the outage", c.Token, hankoauth.ReasonRevoked)
}

// Under local, a revocation during the outage goes unseen: the trade-off.
func TestOutageLocalIsRevocationBlind(t *testing.T) {
	f := newOutageFixture(t, hankoauth.OutageLocal, -1)
	m := f.srv.MustMint(t, hankotest.Session{})
	f.srv.Fail(hankotest.EndpointValidate, hankotest.Failure{Status: 500})
	f.srv.Revoke(m.SessionID)
	f.check(t, "revoked during the outage", m.Token, hankoauth.ReasonOK)
	f.srv.ClearFailures()
	f.check(t, "after the outage", m.Token, hankoauth.ReasonRevoked)
}

// A slow Hanko (timeouts) is an outage too; a 400 is an answer, not one.
func TestOutageSlowHanko(t *testing.T) {
	srv := hankotest.NewServer()
	defer srv.Close()
	v, err := hankoauth.New(hankoauth.Config{APIURL: srv.URL, Outage: hankoauth.OutageLocal, RequestTimeout: 100 * time.Millisecond, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for v.Ready() != nil {
		time.Sleep(5 * time.Millisecond)
	}
	m := srv.MustMint(t, hankotest.Session{})
	srv.Fail(hankotest.EndpointValidate, hankotest.Failure{Delay: time.Minute})
	if _, err := v.Validate(t.Context(), m.Token); err != nil || !v.Outage().Degraded() {
		t.Errorf("slow Hanko under local: %v, degraded %v", err, v.Outage().Degraded())
	}
	srv.Fail(hankotest.EndpointValidate, hankotest.Failure{Status: 400, Body: `{"code":400}`})
	if _, err := v.Validate(t.Context(), m.Token); !errors.Is(err, hankoauth.ErrMalformed) || v.Outage().Degraded() {
		t.Errorf("400: %v, degraded %v", err, v.Outage().Degraded())
	}
}

func TestOutagePolicyConfig(t *testing.T) {
	for _, s := range []string{"deny", "stale", "local", "STALE"} {
		p, err := hankoauth.ParseOutagePolicy(s)
		if err != nil || p.String() != strings.ToLower(s) {
			t.Errorf("%q: %v, %v", s, p, err)
		}
	}
	if _, err := hankoauth.ParseOutagePolicy("open"); err == nil {
		t.Error("open accepted")
	}
	for _, cfg := range []hankoauth.Config{
		{APIURL: "http://h", Mode: hankoauth.ModeRemote, Outage: hankoauth.OutageStale},
		{APIURL: "http://h", Mode: hankoauth.ModeLocal, Outage: hankoauth.OutageLocal},
		{APIURL: "http://h", Outage: 7},
		{APIURL: "http://h", Outage: hankoauth.OutageStale, OutageGrace: -time.Second},
	} {
		if v, err := hankoauth.New(cfg); err == nil {
			v.Close()
			t.Errorf("%+v accepted", cfg)
		}
	}
}
