package hankoauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// handlerTransport answers requests with a handler in memory, without a
// network: a fake Hanko for tests in a synctest bubble, whose clock only
// moves while every goroutine waits on it.
type handlerTransport http.HandlerFunc

func (h handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	h(rec, r)
	return rec.Result(), nil
}

// flakyJWKS serves the recorded JWKS while up, a 500 otherwise, and counts
// the requests.
type flakyJWKS struct {
	up    atomic.Bool
	calls atomic.Int64
	jwks  []byte
}

func (f *flakyJWKS) client() *http.Client {
	return &http.Client{Transport: handlerTransport(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		if !f.up.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(f.jwks)
	})}
}

// After a long outage at start, readiness follows Hanko's return within
// the start-up backoff cap (seconds), in local/hybrid and in remote mode,
// while the outage costs Hanko at most one request per cap interval.
func TestReadinessFollowsHankosReturn(t *testing.T) {
	for _, mode := range []Mode{ModeLocal, ModeHybrid, ModeRemote} {
		t.Run(mode.String(), func(t *testing.T) {
			jwks := fixtureBody(t, "00-jwks")
			synctest.Test(t, func(t *testing.T) {
				f := &flakyJWKS{jwks: jwks}
				v, err := New(Config{APIURL: "http://hanko.test", Mode: mode, Now: fixedNow, HTTPClient: f.client()})
				if err != nil {
					t.Fatal(err)
				}
				defer v.Close()
				const outage = 10 * time.Minute
				time.Sleep(outage)
				if err := v.Ready(); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "500") {
					t.Fatalf("Ready during the outage = %v, want ErrUnavailable naming the 500", err)
				}
				if n, most := f.calls.Load(), int64(outage/startBackoffCap)+8; n > most {
					t.Errorf("%d requests during a %v outage, want at most %d", n, outage, most)
				}
				f.up.Store(true)
				start := time.Now()
				if err := v.WaitReady(t.Context()); err != nil {
					t.Fatal(err)
				}
				if d := time.Since(start); d > startBackoffCap {
					t.Errorf("ready %v after Hanko's return, want at most %v", d, startBackoffCap)
				}
			})
		})
	}
}

// WaitReady gives up with the context, with an error that names the cause
// of the failures: a refused connection, not only "not ready".
func TestWaitReadyNamesTheCause(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now
	for _, mode := range []Mode{ModeHybrid, ModeRemote} {
		v, err := New(Config{APIURL: "http://" + addr, Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err = v.WaitReady(ctx)
		cancel()
		v.Close()
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%v: WaitReady = %v, want ErrUnavailable naming the refused connection", mode, err)
		}
	}
}

// The warning of a failed fetch claims a "last good key set" only when
// one was loaded.
func TestFetchWarningWithoutKeys(t *testing.T) {
	jwks := fixtureBody(t, "00-jwks")
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		var mu sync.Mutex
		log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return buf.Write(p)
		}), nil))
		f := &flakyJWKS{jwks: jwks}
		v, err := New(Config{APIURL: "http://hanko.test", Mode: ModeLocal, Now: fixedNow, HTTPClient: f.client(), Logger: log, KeyRefreshMin: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		time.Sleep(time.Second)
		synctest.Wait()
		mu.Lock()
		before := buf.String()
		buf.Reset()
		mu.Unlock()
		if !strings.Contains(before, "no key set loaded yet") || strings.Contains(before, "last good key set") {
			t.Errorf("warnings before any key set:\n%s", before)
		}
		f.up.Store(true)
		if err := v.WaitReady(t.Context()); err != nil {
			t.Fatal(err)
		}
		f.up.Store(false)
		time.Sleep(11 * time.Minute) // the next refresh fails
		synctest.Wait()
		mu.Lock()
		after := buf.String()
		mu.Unlock()
		if !strings.Contains(after, "last good key set") {
			t.Errorf("warnings with a key set loaded:\n%s", after)
		}
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Close leaves no goroutine and no idle connection behind: the client's
// connection goroutines are gone when it returns.
func TestCloseLeavesNothing(t *testing.T) {
	for _, mode := range []Mode{ModeHybrid, ModeRemote} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newRecordedHanko(t)
			before := goleak.IgnoreCurrent()
			v, err := New(Config{APIURL: h.URL, Mode: mode, Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			if err := v.WaitReady(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, err := v.Validate(t.Context(), fixtureToken(t, "03-token-valid.jwt")); err != nil {
				t.Fatal(err)
			}
			v.Close()
			goleak.VerifyNone(t, before)
		})
	}
}

// Close may run while validations start calls to Hanko: no WaitGroup.Add
// races with its Wait (the race detector and WaitGroup's own checks would
// say so), and work refused after Close is ErrUnavailable.
func TestCloseRacesValidate(t *testing.T) {
	h := newRecordedHanko(t)
	h.set(func(h *recordedHanko) { h.delay = 5 * time.Millisecond })
	for range 5 {
		v, err := New(Config{APIURL: h.URL, Mode: ModeRemote, Now: fixedNow, CacheSize: -1})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for j := range 5 {
					// Distinct tokens (the signature is Hanko's to judge
					// in remote mode): no shared work, many calls.
					token := fmt.Sprintf("%s%02d%02d", fixtureToken(t, "03-token-valid.jwt"), i, j)
					_, err := v.Validate(context.Background(), token)
					if err != nil && !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrUnavailable) {
						t.Errorf("Validate: %v", err)
					}
				}
			})
		}
		for h.calls.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		v.Close()
		wg.Wait()
		if _, err := v.Validate(context.Background(), fixtureToken(t, "03-token-valid.jwt")); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Validate after Close = %v, want ErrUnavailable", err)
		}
	}
}
