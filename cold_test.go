package hankoauth

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// A verification waits for a free slot at most RequestTimeout, then fails
// as unavailable, and is not cached: once a slot frees, the same token
// validates.
func TestColdVerificationsBounded(t *testing.T) {
	h := newRecordedHanko(t)
	clk := newClock(fixtureClock)
	v := newHybrid(t, h, clk, func(c *Config) {
		c.MaxColdVerifications = 1
		c.RequestTimeout = 50 * time.Millisecond
	})
	if cap(v.cold) != 1 {
		t.Fatalf("slots = %d, want 1", cap(v.cold))
	}
	token := fixtureToken(t, "03-token-valid.jwt")
	v.cold <- struct{}{} // a verification under way
	_, err := v.Validate(context.Background(), token)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, errTooBusy) {
		t.Fatalf("with no free slot: %v, want unavailable (too busy)", err)
	}
	if h.calls.Load() != 0 {
		t.Fatal("hanko asked about a token that was not verified")
	}
	<-v.cold
	if _, err := v.Validate(context.Background(), token); err != nil {
		t.Fatalf("with a free slot: %v", err)
	}
	if len(v.cold) != 0 {
		t.Fatal("slot not released after the verification")
	}
}

// Waiting verifications proceed one after the other as slots free.
func TestColdVerificationsWait(t *testing.T) {
	h := newRecordedHanko(t)
	clk := newClock(fixtureClock)
	v := newHybrid(t, h, clk, func(c *Config) { c.MaxColdVerifications = 1 })
	token := fixtureToken(t, "03-token-valid.jwt")
	v.cold <- struct{}{}
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	wg.Go(func() {
		_, err := v.Validate(context.Background(), token)
		errs <- err
	})
	time.Sleep(20 * time.Millisecond)
	<-v.cold // the other verification ends
	wg.Wait()
	if err := <-errs; err != nil {
		t.Fatalf("after waiting: %v", err)
	}
}

func TestColdVerificationsDefault(t *testing.T) {
	cfg, err := Config{APIURL: "http://127.0.0.1:1"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxColdVerifications < 1 {
		t.Fatalf("default MaxColdVerifications = %d, want at least 1", cfg.MaxColdVerifications)
	}
	cfg, _ = Config{APIURL: "http://127.0.0.1:1", MaxColdVerifications: -1}.withDefaults()
	v := &Validator{cfg: cfg}
	if err := v.acquireCold(context.Background()); err != nil {
		t.Fatal(err)
	}
	v.releaseCold(time.Millisecond)
}

// A session revalidated after RevalidateAfter is not verified again (its
// signature was): revalidating it needs Hanko's answer, not a
// verification slot. Once it is no longer kept, it is verified again.
func TestRevalidationSkipsVerification(t *testing.T) {
	h := newRecordedHanko(t)
	clk := newClock(fixtureClock)
	v := newHybrid(t, h, clk, func(c *Config) {
		c.MaxColdVerifications = 1
		c.RequestTimeout = 50 * time.Millisecond
	})
	token := fixtureToken(t, "03-token-valid.jwt")
	ctx := context.Background()
	if _, err := v.Validate(ctx, token); err != nil {
		t.Fatal(err)
	}
	v.cold <- struct{}{} // no slot free from now on
	defer func() { <-v.cold }()
	clk.Add(16 * time.Second)
	s, err := v.Validate(ctx, token)
	if err != nil {
		t.Fatalf("revalidation: %v", err)
	}
	if h.calls.Load() != 2 {
		t.Fatalf("hanko calls = %d, want 2", h.calls.Load())
	}
	if s.SessionID != "7a14fa80-6328-4fe0-b9d5-00d0bd5861cb" {
		t.Fatalf("session %+v", s)
	}
	clk.Add(31 * time.Second) // past until + RevalidateAfter: verified again, and no slot
	if _, err := v.Validate(ctx, token); !errors.Is(err, errTooBusy) {
		t.Fatalf("after the entry expired: %v, want a verification (too busy)", err)
	}
}
