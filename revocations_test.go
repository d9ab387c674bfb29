package hankoauth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// revocationFixture is a local-mode validator on a settable clock with an
// EC key of the test's own, to mint sessions quickly.
type revocationFixture struct {
	v   *Validator
	clk *clock
	key signer
}

func newRevocationFixture(t testing.TB, mod func(*Config)) *revocationFixture {
	t.Helper()
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &revocationFixture{clk: newClock(fixtureClock), key: signer{kid: "ec", alg: jose.ES256, key: ek, pub: &ek.PublicKey}}
	ks := newKeyServer(t, jwksOf(t, f.key))
	f.v = newLocal(t, ks, func(c *Config) {
		c.Now = f.clk.Now
		if mod != nil {
			mod(c)
		}
	})
	return f
}

// token mints a session token of user uid and session sid, issued at iat
// and valid for an hour.
func (f *revocationFixture) token(t testing.TB, uid, sid string, iat time.Time) string {
	t.Helper()
	return f.key.sign(t, map[string]any{
		"sub": uid, "session_id": sid, "aud": []string{"localhost"},
		"iat": iat.Unix(), "exp": iat.Add(time.Hour).Unix(),
	})
}

func (f *revocationFixture) validate(t testing.TB, token string) error {
	t.Helper()
	_, err := f.v.Validate(context.Background(), token)
	return err
}

func uuidN(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

func TestRevocationsSessionAndUser(t *testing.T) {
	for _, cacheSize := range []int{0, -1} { // cache on (default), cache off
		t.Run(fmt.Sprintf("cache=%d", cacheSize), func(t *testing.T) {
			f := newRevocationFixture(t, func(c *Config) { c.CacheSize = cacheSize })
			now := f.clk.Now()
			alice1 := f.token(t, uuidN(1), uuidN(101), now.Add(-10*time.Minute))
			alice2 := f.token(t, uuidN(1), uuidN(102), now.Add(-5*time.Minute))
			bob := f.token(t, uuidN(2), uuidN(201), now.Add(-5*time.Minute))
			for _, tok := range []string{alice1, alice2, bob} {
				if err := f.validate(t, tok); err != nil { // cached, when there is a cache
					t.Fatal(err)
				}
			}

			// A session: rejected at once, cached or not; others untouched.
			if err := f.v.RevokeSession(uuidN(201), now.Add(55*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := f.validate(t, bob); !errors.Is(err, ErrRevoked) {
				t.Fatalf("revoked session: %v", err)
			}
			// A user: its sessions issued up to the deletion, not later ones.
			if err := f.v.RevokeUser(uuidN(1), now.Add(-7*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := f.validate(t, alice1); !errors.Is(err, ErrRevoked) {
				t.Fatalf("session issued before the user revocation: %v", err)
			}
			if err := f.validate(t, alice2); err != nil {
				t.Fatalf("session issued after the user revocation: %v", err)
			}
			if err := f.v.RevokeUser(uuidN(1), now); err != nil {
				t.Fatal(err)
			}
			if err := f.validate(t, alice2); !errors.Is(err, ErrRevoked) {
				t.Fatalf("session issued before the later user revocation: %v", err)
			}
			fresh := f.token(t, uuidN(1), uuidN(103), now.Add(time.Second))
			if err := f.validate(t, fresh); err != nil {
				t.Fatalf("session issued after the user revocation: %v", err)
			}
			if st := f.v.Stats(); st.Revocations != 2 || st.RevocationsMax != DefaultMaxRevocations {
				t.Fatalf("stats = %+v", st)
			}

			// Still rejected after the cache's time; forgotten once run out.
			f.clk.Add(30 * time.Minute)
			if err := f.validate(t, bob); !errors.Is(err, ErrRevoked) {
				t.Fatalf("revoked session later: %v", err)
			}
			f.clk.Add(26*time.Minute + DefaultLeeway)
			if st := f.v.Stats(); st.Revocations != 1 {
				t.Fatalf("after the session's expiry: %+v, want the user revocation only", st)
			}
			f.clk.Add(DefaultSessionLifetime)
			if st := f.v.Stats(); st.Revocations != 0 {
				t.Fatalf("after the session lifetime: %+v", st)
			}
		})
	}
}

// TestRevocationsNeverDropped is the regression test of the tombstone map
// that stopped remembering revocations at CacheSize: in local mode, with a
// tiny cache, every one of many revocations stays in force.
func TestRevocationsNeverDropped(t *testing.T) {
	f := newRevocationFixture(t, func(c *Config) { c.CacheSize = 4 })
	now := f.clk.Now()
	const n = 50
	tokens := make([]string, n)
	for i := range n {
		tokens[i] = f.token(t, uuidN(1000+i), uuidN(i), now)
		if err := f.validate(t, tokens[i]); err != nil {
			t.Fatal(err)
		}
		if err := f.v.RevokeSession(uuidN(i), now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	for i, tok := range tokens {
		if err := f.validate(t, tok); !errors.Is(err, ErrRevoked) {
			t.Fatalf("session %d: %v", i, err)
		}
	}
	if st := f.v.Stats(); st.Revocations != n {
		t.Fatalf("revocations = %d, want %d", st.Revocations, n)
	}
}

// TestRevocationsFull: at the ceiling a revocation is refused loudly (an
// error, a hook, a log line), the ones in force stay, the refused
// session's cached tokens are rejected all the same, and room comes back
// as revocations run out.
func TestRevocationsFull(t *testing.T) {
	var logs bytes.Buffer
	var refused, applied atomic.Int64
	f := newRevocationFixture(t, func(c *Config) {
		c.MaxRevocations = 10
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		c.Hooks = &Hooks{
			RevocationApplied: func(RevocationSource) { applied.Add(1) },
			RevocationRefused: func(RevocationSource) { refused.Add(1) },
		}
	})
	now := f.clk.Now()
	for i := range 10 {
		until := now.Add(time.Hour)
		if i == 0 {
			until = now.Add(10 * time.Minute)
		}
		if err := f.v.RevokeSession(uuidN(i), until); err != nil {
			t.Fatalf("revocation %d: %v", i, err)
		}
	}
	if !strings.Contains(logs.String(), "nearly full") {
		t.Errorf("no warning near the ceiling; log:\n%s", logs.String())
	}
	cached := f.token(t, uuidN(500), uuidN(50), now)
	if err := f.validate(t, cached); err != nil {
		t.Fatal(err)
	}
	if err := f.v.RevokeSession(uuidN(50), now.Add(time.Hour)); !errors.Is(err, ErrRevocationsFull) {
		t.Fatalf("revocation beyond the ceiling: %v", err)
	}
	if err := f.v.RevokeUser(uuidN(500), now); !errors.Is(err, ErrRevocationsFull) {
		t.Fatalf("user revocation beyond the ceiling: %v", err)
	}
	if err := f.validate(t, cached); !errors.Is(err, ErrRevoked) {
		t.Fatalf("cached token of a refused revocation: %v", err)
	}
	if refused.Load() != 2 || applied.Load() != 10 || !strings.Contains(logs.String(), "revocation refused") {
		t.Fatalf("refused %d, applied %d; log:\n%s", refused.Load(), applied.Load(), logs.String())
	}
	// A repeat of one in force is no new entry: not refused.
	if changed, err := f.v.Revoke(Revocation{SessionID: uuidN(3), At: now.Add(time.Hour)}, SourceWebhook); changed || err != nil {
		t.Fatalf("repeat: %v %v", changed, err)
	}
	for i := range 10 {
		if err := f.validate(t, f.token(t, uuidN(900), uuidN(i), now)); !errors.Is(err, ErrRevoked) {
			t.Fatalf("revocation %d dropped: %v", i, err)
		}
	}
	f.clk.Add(10*time.Minute + DefaultLeeway)
	if err := f.v.RevokeSession(uuidN(50), now.Add(time.Hour)); err != nil {
		t.Fatalf("after one ran out: %v", err)
	}
}

// TestRevocationsIdempotentUnordered applies the same revocations, with
// repeats, in many orders: the outcome never depends on the order.
func TestRevocationsIdempotentUnordered(t *testing.T) {
	now := fixtureClock
	revs := []Revocation{
		{SessionID: uuidN(1), At: now.Add(time.Hour)},
		{SessionID: uuidN(1), At: now.Add(30 * time.Minute)}, // an older row of the same session
		{SessionID: uuidN(2), At: now.Add(-time.Hour)},       // already run out
		{UserID: uuidN(10), At: now.Add(-20 * time.Minute)},
		{UserID: uuidN(10), At: now.Add(-40 * time.Minute)},
		{UserID: uuidN(11), At: now.Add(time.Hour)}, // capped at now
	}
	probes := []struct {
		uid, sid string
		iat      time.Duration
		revoked  bool
	}{
		{uuidN(9), uuidN(1), -time.Minute, true},
		{uuidN(9), uuidN(2), -time.Minute, false},
		{uuidN(10), uuidN(3), -30 * time.Minute, true},
		{uuidN(10), uuidN(4), -20 * time.Minute, true},
		{uuidN(10), uuidN(5), -10 * time.Minute, false},
		{uuidN(11), uuidN(6), -time.Second, true},
		{uuidN(11), uuidN(7), time.Second, false},
	}
	for round := range 20 {
		f := newRevocationFixture(t, func(c *Config) { c.Now = fixedNow }) // a fresh validator per order
		order := append(append([]Revocation(nil), revs...), revs...)
		mrand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, r := range order {
			if _, err := f.v.Revoke(r, SourceStream); err != nil {
				t.Fatal(err)
			}
		}
		for i, p := range probes {
			tok := f.key.sign(t, map[string]any{
				"sub": p.uid, "session_id": p.sid, "iat": now.Add(p.iat).Unix(), "exp": now.Add(time.Hour).Unix(),
			})
			err := f.validate(t, tok)
			if got := errors.Is(err, ErrRevoked); got != p.revoked || (!got && err != nil) {
				t.Fatalf("round %d, probe %d: %v, want revoked %v", round, i, err, p.revoked)
			}
		}
		if st := f.v.Stats(); st.Revocations != 3 {
			t.Fatalf("round %d: %d revocations in force, want 3", round, st.Revocations)
		}
	}
}

// TestRevocationRace: once Revoke has returned, no validation started
// afterwards accepts the session, whatever was being cached meanwhile.
func TestRevocationRace(t *testing.T) {
	f := newRevocationFixture(t, nil)
	now := f.clk.Now()
	const n = 40
	tokens := make([]string, n)
	for i := range n {
		tokens[i] = f.token(t, uuidN(100+i%4), uuidN(i), now)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_ = f.validate(t, tokens[(i+w)%n])
			}
		})
	}
	for i := range n {
		if i%2 == 0 {
			if err := f.v.RevokeSession(uuidN(i), now.Add(time.Hour)); err != nil {
				t.Error(err)
			}
		} else if err := f.v.RevokeUser(uuidN(100+i%4), now); err != nil {
			t.Error(err)
		}
		if err := f.validate(t, tokens[i]); !errors.Is(err, ErrRevoked) {
			t.Errorf("session %d right after its revocation: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
}

// TestCachedValidateAllocs: with revocations in force, a cache hit still
// allocates nothing.
func TestCachedValidateAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	f := newRevocationFixture(t, nil)
	now := f.clk.Now()
	tok := f.token(t, uuidN(1), uuidN(1), now)
	for i := range 100 {
		_ = f.v.RevokeSession(uuidN(1000+i), now.Add(time.Hour))
		_ = f.v.RevokeUser(uuidN(2000+i), now)
	}
	if err := f.validate(t, tok); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if a := testing.AllocsPerRun(1000, func() { _, _ = f.v.Validate(ctx, tok) }); a != 0 {
		t.Fatalf("cached Validate allocates %v times", a)
	}
}

// TestRevocationMemory measures the bytes a revocation in force costs
// (the number the README documents) and keeps it within bounds.
func TestRevocationMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("measures memory")
	}
	const n = 200_000
	s := newRevocationStore(n)
	keys := make([]revKey, n)
	for i := range keys {
		keys[i] = revocationKey(fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i))
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	now := fixtureClock.UnixNano()
	for i, k := range keys {
		if _, err := s.addSession(k, now+int64(time.Hour)+int64(i), now); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("revocation store: %.0f bytes per revocation in force (%d revocations)", per, n)
	if per > 150 {
		t.Fatalf("%.0f bytes per revocation, documented as about 55", per)
	}
	runtime.KeepAlive(s)
}

func TestRevocationKey(t *testing.T) {
	a := revocationKey("5b35d505-63a7-42c3-8458-709718aaa3bd")
	for _, same := range []string{"5B35D505-63A7-42C3-8458-709718AAA3BD", "5b35d50563a742c38458709718aaa3bd"} {
		if revocationKey(same) != a {
			t.Errorf("%q has another key", same)
		}
	}
	for _, other := range []string{"5b35d505-63a7-42c3-8458-709718aaa3be", "not-a-uuid", "", "5b35d505x63a7-42c3-8458-709718aaa3bd"} {
		if revocationKey(other) == a {
			t.Errorf("%q has the same key", other)
		}
	}
	if revocationKey("x") == revocationKey("y") {
		t.Error("two ids, one key")
	}
}

func TestRevokeBadInput(t *testing.T) {
	f := newRevocationFixture(t, nil)
	for _, r := range []Revocation{{}, {SessionID: "a", UserID: "b", At: fixtureClock}, {SessionID: "a"}} {
		if _, err := f.v.Revoke(r, SourceAPI); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}
