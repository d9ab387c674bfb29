package hankoauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestHankoRedirectsAreNeverFollowed: a redirect from /sessions/validate
// is Hanko being unavailable. The token never reaches the origin the
// redirect names (307/308 would re-send it), a token-less GET's
// is_valid:false (301/302/303) is never taken for a revocation, and
// nothing is cached: once Hanko answers properly, the session is valid.
// The same holds with a caller's http.Client that follows redirects.
func TestHankoRedirectsAreNeverFollowed(t *testing.T) {
	token := fixtureToken(t, "03-token-valid.jwt")
	var evilCalls atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evilCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			_, _ = w.Write(fixtureBody(t, "04-post-validate-valid"))
			return
		}
		_, _ = w.Write([]byte(`{"is_valid":false}`))
	}))
	defer evil.Close()

	for _, code := range []int{301, 302, 303, 307, 308} {
		for _, client := range []struct {
			name string
			c    *http.Client
		}{{"default client", nil}, {"caller's client", &http.Client{}}} {
			t.Run(http.StatusText(code)+"/"+client.name, func(t *testing.T) {
				evilCalls.Store(0)
				h := newRecordedHanko(t)
				var redirect atomic.Bool
				redirect.Store(true)
				inner := h.Config.Handler
				h.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/sessions/validate" && redirect.Load() {
						http.Redirect(w, r, evil.URL+"/sessions/validate", code)
						return
					}
					inner.ServeHTTP(w, r)
				})
				clk := newClock(fixtureClock)
				v := newHybrid(t, h, clk, func(c *Config) { c.HTTPClient = client.c })
				_, err := v.Validate(context.Background(), token)
				if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalidToken) {
					t.Fatalf("err = %v, want ErrUnavailable", err)
				}
				if n := evilCalls.Load(); n != 0 {
					t.Fatalf("the redirect was followed: %d requests to its target", n)
				}
				redirect.Store(false)
				if _, err := v.Validate(context.Background(), token); err != nil {
					t.Fatalf("after Hanko answers properly: %v (a rejection was cached)", err)
				}
			})
		}
	}
}

// TestRedirectFollowingTransport: a transport that follows redirects by
// itself (so the client never sees the 3xx) still cannot make an answer
// from elsewhere count.
func TestRedirectFollowingTransport(t *testing.T) {
	token := fixtureToken(t, "03-token-valid.jwt")
	h := newRecordedHanko(t)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"is_valid":false}`))
	}))
	defer other.Close()
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/sessions/validate" {
			r2 := r.Clone(r.Context())
			r2.Method, r2.Body, r2.ContentLength = http.MethodGet, nil, 0
			r2.URL.Host = other.Listener.Addr().String()
			r2.Host = ""
			return http.DefaultTransport.RoundTrip(r2)
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	v := newHybrid(t, h, newClock(fixtureClock), func(c *Config) {
		c.HTTPClient = &http.Client{Transport: rt, Timeout: time.Second}
	})
	if _, err := v.Validate(context.Background(), token); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
