package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
	"github.com/hankoauth/hankoauth/webhook"
)

// handlerTransport sends requests to a handler in process: the Hanko
// load simulation counts calls, it does not need sockets.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, r)
	return w.Result(), nil
}

type simClock struct{ ns atomic.Int64 }

func (c *simClock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *simClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// loadResult is what one simulated run costs Hanko, and how long revoked
// sessions still got in.
type loadResult struct {
	calls        int           // POST /sessions/validate
	worstRevoked time.Duration // the longest a revoked session was still accepted
}

// simulate runs n sessions, each making a request every 10 s of simulated
// time for run, against one validator with the given RevalidateAfter,
// with or without webhooks. A tenth of the sessions is revoked at Hanko
// halfway through (while their last answer is still cached).
func simulate(tb testing.TB, n int, run, revalidate time.Duration, webhooks bool) loadResult {
	tb.Helper()
	clk := &simClock{}
	clk.ns.Store(time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC).UnixNano())
	var receiver atomic.Pointer[http.Handler]
	rx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*receiver.Load()).ServeHTTP(w, r)
	}))
	defer rx.Close()
	opts := []hankotest.Option{hankotest.WithClock(clk.Now)}
	if webhooks {
		opts = append(opts, hankotest.WithWebhook(rx.URL, "session.delete", "user.delete"))
	}
	hanko, err := hankotest.New(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := hankoauth.New(hankoauth.Config{
		APIURL: "http://hanko.invalid", RevalidateAfter: revalidate, Now: clk.Now,
		HTTPClient: &http.Client{Transport: handlerTransport{hanko.Handler()}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	defer v.Close()
	var h http.Handler = webhook.NewHandler(v)
	receiver.Store(&h)
	for deadline := time.Now().Add(5 * time.Second); v.Ready() != nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatal(v.Ready())
		}
	}
	sessions := make([]hankotest.Minted, n)
	for i := range sessions {
		sessions[i] = hanko.MustMint(tb, hankotest.Session{})
	}
	hanko.ResetCalls()
	const step = 10 * time.Second
	revokedAt := make(map[int]time.Time)
	rejected := make(map[int]bool)
	var res loadResult
	ctx := context.Background()
	for elapsed := time.Duration(0); elapsed < run; elapsed += step {
		if elapsed == run/2/step*step+step {
			for i := 0; i < n; i += 10 {
				hanko.Revoke(sessions[i].SessionID)
				revokedAt[i] = clk.Now()
			}
			hanko.WaitWebhooks()
		}
		for i, s := range sessions {
			_, err := v.Validate(ctx, s.Token)
			at, revoked := revokedAt[i]
			switch {
			case revoked && err == nil && rejected[i]:
				tb.Fatalf("revoked session %d accepted again", i)
			case revoked && err == nil:
			case revoked && !errors.Is(err, hankoauth.ErrRevoked):
				tb.Fatalf("revoked session %d: %v", i, err)
			case revoked && !rejected[i]:
				rejected[i] = true
				res.worstRevoked = max(res.worstRevoked, clk.Now().Sub(at))
			case !revoked && err != nil:
				tb.Fatalf("session %d: %v", i, err)
			}
		}
		clk.Add(step)
	}
	res.calls = hanko.Calls(hankotest.EndpointValidate)
	return res
}

// TestHankoLoad compares the calls to Hanko's /sessions/validate with
// webhooks and RevalidateAfter = 5 min against the 15 s default: fewer
// calls, and revoked sessions rejected at once instead of after up to
// 15 s. BenchmarkHankoLoad runs it for 1000 sessions.
func TestHankoLoad(t *testing.T) {
	n, run := 100, 30*time.Minute
	if raceEnabled {
		n = 20 // the race detector slows RSA down tenfold
	}
	base := simulate(t, n, run, hankoauth.DefaultRevalidateAfter, false)
	hooked := simulate(t, n, run, 5*time.Minute, true)
	ratio := float64(base.calls) / float64(hooked.calls)
	t.Logf("%d sessions, one request per 10 s for %v: %d calls to /sessions/validate at RevalidateAfter 15 s, %d with webhooks at 5 min (%.1fx fewer); revoked sessions got in for up to %v without webhooks, %v with",
		n, run, base.calls, hooked.calls, ratio, base.worstRevoked, hooked.worstRevoked)
	if hooked.worstRevoked != 0 || base.worstRevoked == 0 {
		t.Errorf("with webhooks a revoked session still got in (%v)", hooked.worstRevoked)
	}
	if ratio < 10 {
		t.Errorf("only %.1fx fewer calls", ratio)
	}
}

// BenchmarkHankoLoad reports the calls to /sessions/validate for 1000
// sessions over 30 simulated minutes (one request per session per 10 s),
// at the 15 s default and with webhooks at RevalidateAfter = 5 min, and
// their ratio. Run it with -benchtime=1x.
func BenchmarkHankoLoad(b *testing.B) {
	const n, run = 1000, 30 * time.Minute
	for b.Loop() {
		base := simulate(b, n, run, hankoauth.DefaultRevalidateAfter, false)
		hooked := simulate(b, n, run, 5*time.Minute, true)
		b.ReportMetric(float64(base.calls), "calls-15s")
		b.ReportMetric(float64(hooked.calls), "calls-webhooks-5m")
		b.ReportMetric(float64(base.calls)/float64(hooked.calls), "ratio")
	}
}
