package revstream_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
	"github.com/hankoauth/hankoauth/internal/redistest"
	"github.com/hankoauth/hankoauth/revstream"
	"github.com/hankoauth/hankoauth/webhook"
)

// replica is one hanko-authz replica in process: a validator, its stream
// and its webhook receiver.
type replica struct {
	name   string
	v      *hankoauth.Validator
	stream *revstream.Stream
}

// cluster is a fake Hanko that delivers its webhooks to replica 1, and
// replicas sharing one Redis.
type cluster struct {
	hanko    *hankotest.Server
	redis    *redistest.Server
	receiver atomic.Pointer[http.Handler]
	arrived  atomic.Int64 // unix ns when the last delivery reached replica 1
	replicas []*replica
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{redis: redistest.Start(t)}
	rx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := c.receiver.Load(); h != nil {
			c.arrived.Store(time.Now().UnixNano())
			(*h).ServeHTTP(w, r)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(rx.Close)
	c.hanko = hankotest.NewServer(hankotest.WithWebhook(rx.URL+webhook.DefaultPath, "session.delete", "user.delete"))
	t.Cleanup(c.hanko.Close)
	return c
}

// add starts a replica whose stream reaches Redis at redisURL (the real
// one, or a proxy); the first replica receives the webhooks.
func (c *cluster) add(t *testing.T, redisURL string) *replica {
	t.Helper()
	r := &replica{name: fmt.Sprintf("replica-%d", len(c.replicas)+1)}
	var err error
	r.v, err = hankoauth.New(hankoauth.Config{APIURL: c.hanko.URL, RevalidateAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.v.Close() })
	r.stream, err = revstream.Open(redisURL+"?client_name="+r.name, r.v, revstream.WithBlock(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	r.stream.Start()
	t.Cleanup(func() { r.stream.Close() })
	if len(c.replicas) == 0 {
		var h http.Handler = webhook.NewHandler(r.v, webhook.WithRevoker(r.stream))
		c.receiver.Store(&h)
	}
	select {
	case <-r.stream.Replayed():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no replay", r.name)
	}
	for deadline := time.Now().Add(5 * time.Second); r.v.Ready() != nil; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(r.v.Ready())
		}
	}
	c.replicas = append(c.replicas, r)
	return r
}

// session mints a session and has every replica cache it.
func (c *cluster) session(t *testing.T) hankotest.Minted {
	t.Helper()
	m := c.hanko.MustMint(t, hankotest.Session{})
	for _, r := range c.replicas {
		if _, err := r.v.Validate(context.Background(), m.Token); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
	}
	return m
}

func revoked(r *replica, token string) bool {
	_, err := r.v.Validate(context.Background(), token)
	return errors.Is(err, hankoauth.ErrRevoked)
}

// waitRevoked waits until every replica in rs rejects token, and returns
// how long that took.
func waitRevoked(t *testing.T, token string, within time.Duration, rs ...*replica) time.Duration {
	t.Helper()
	start := time.Now()
	for _, r := range rs {
		for !revoked(r, token) {
			if time.Since(start) > within {
				t.Fatalf("%s still accepts the session after %v", r.name, within)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	return time.Since(start)
}

func killClient(t *testing.T, rdb *redis.Client, name string) int {
	t.Helper()
	list, err := rdb.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name="+name+" ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				if err := rdb.Do(context.Background(), "CLIENT", "KILL", "ID", id).Err(); err == nil {
					n++
				}
			}
		}
	}
	return n
}

// TestPropagation: three replicas share one Redis; a webhook delivered to
// the first makes all three reject the session. It reports the delay
// from the revocation at Hanko to the last replica rejecting, over 200
// revocations.
func TestPropagation(t *testing.T) {
	c := newCluster(t)
	for range 3 {
		c.add(t, c.redis.URL)
	}
	const n = 200
	delays := make([]time.Duration, 0, n) // from the delivery's arrival at replica 1
	total := make([]time.Duration, 0, n)  // from the revocation at Hanko (its signing included)
	for range n {
		m := c.session(t)
		start := time.Now()
		if !c.hanko.Revoke(m.SessionID) {
			t.Fatal("revoke")
		}
		waitRevoked(t, m.Token, 5*time.Second, c.replicas...)
		end := time.Now()
		total = append(total, end.Sub(start))
		delays = append(delays, end.Sub(time.Unix(0, c.arrived.Load())))
	}
	slices.Sort(delays)
	slices.Sort(total)
	round := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	t.Logf("propagation over %d revocations, from the delivery reaching replica 1 to all 3 replicas rejecting: p50 %v, p99 %v, max %v; from the revocation at Hanko (which signs the webhook): p50 %v, p99 %v",
		n, round(delays[n/2]), round(delays[n*99/100]), round(delays[n-1]), round(total[n/2]), round(total[n*99/100]))
	for _, d := range c.hanko.Deliveries() {
		if d.Status != http.StatusNoContent {
			t.Fatalf("delivery %+v", d)
		}
	}
}

// TestCutOffReplicaCatchesUp: Redis's connection to one replica is
// killed (CLIENT KILL) and kept down while revocations are delivered;
// once it is back, the replica applies them all. A session user deletion
// travels the same way.
func TestCutOffReplicaCatchesUp(t *testing.T) {
	c := newCluster(t)
	proxy := redistest.NewProxy(t, c.redis.Addr)
	r1 := c.add(t, c.redis.URL)
	r2 := c.add(t, "redis://"+proxy.Addr)
	admin := redis.NewClient(&redis.Options{Addr: c.redis.Addr})
	defer admin.Close()

	// A plain CLIENT KILL: the replica reconnects and misses nothing.
	before := c.session(t)
	if killClient(t, admin, "replica-2") == 0 {
		t.Fatal("no connection of replica-2 to kill")
	}
	c.hanko.Revoke(before.SessionID)
	waitRevoked(t, before.Token, 5*time.Second, r1, r2)

	// Cut off for longer: killed, and no reconnection until restored.
	sessions := make([]hankotest.Minted, 20)
	for i := range sessions {
		sessions[i] = c.session(t)
	}
	deleted := c.session(t)
	proxy.Cut()
	killClient(t, admin, "replica-2")
	for _, m := range sessions {
		c.hanko.Revoke(m.SessionID)
	}
	if _, err := c.hanko.DeleteUser(deleted.UserID); err != nil {
		t.Fatal(err)
	}
	c.hanko.WaitWebhooks()
	waitRevoked(t, deleted.Token, 5*time.Second, r1)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if up, _ := r2.stream.Status(); !up {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replica-2 still reports the stream up")
		}
	}
	if !strings.Contains(r2.stream.Describe(), "not connected") {
		t.Errorf("Describe: %q", r2.stream.Describe())
	}
	for _, m := range sessions {
		if revoked(r2, m.Token) {
			t.Fatal("replica-2 learnt a revocation while cut off")
		}
	}
	proxy.Restore()
	for _, m := range append(sessions, deleted) {
		waitRevoked(t, m.Token, 10*time.Second, r2)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if up, lag := r2.stream.Status(); up && lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replica-2 does not report the stream up again")
		}
	}
}

// TestLateReplica: a replica started after the revocations rejects those
// sessions from its first request, and appends made while Redis was out
// of reach of the receiving replica reach the others once it is back.
func TestLateReplica(t *testing.T) {
	c := newCluster(t)
	proxy := redistest.NewProxy(t, c.redis.Addr)
	c.add(t, "redis://"+proxy.Addr) // receives the webhooks, through the proxy
	sessions := make([]hankotest.Minted, 10)
	for i := range sessions {
		sessions[i] = c.session(t)
	}
	proxy.Cut() // the receiving replica cannot append...
	for _, m := range sessions[:5] {
		c.hanko.Revoke(m.SessionID)
	}
	c.hanko.WaitWebhooks()
	proxy.Restore() // ...until now
	for _, m := range sessions[5:] {
		c.hanko.Revoke(m.SessionID)
	}
	c.hanko.WaitWebhooks()
	rdb := redis.NewClient(&redis.Options{Addr: c.redis.Addr})
	defer rdb.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n, _ := rdb.XLen(context.Background(), revstream.DefaultKey).Result(); n == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the revocations made while cut off were never appended")
		}
	}
	late := c.add(t, c.redis.URL)
	for i, m := range sessions {
		if _, err := late.v.Validate(context.Background(), m.Token); !errors.Is(err, hankoauth.ErrRevoked) {
			t.Fatalf("session %d on the late replica's first request: %v", i, err)
		}
	}
	fresh := c.hanko.MustMint(t, hankotest.Session{})
	if _, err := late.v.Validate(context.Background(), fresh.Token); err != nil {
		t.Fatalf("a live session on the late replica: %v", err)
	}
}

// TestOnlyRevocations: entries that are not well-formed revocations are
// skipped, and nothing in the stream can make a rejected token pass.
func TestOnlyRevocations(t *testing.T) {
	c := newCluster(t)
	r := c.add(t, c.redis.URL)
	rdb := redis.NewClient(&redis.Options{Addr: c.redis.Addr})
	defer rdb.Close()
	m := c.session(t)
	c.hanko.Revoke(m.SessionID)
	waitRevoked(t, m.Token, 5*time.Second, r)
	ctx := context.Background()
	for _, vals := range [][]any{
		{"k", "x", "id", m.SessionID, "at", "1"},         // unknown kind
		{"k", "s", "id", m.SessionID, "at", "yesterday"}, // bad time
		{"k", "s", "at", "1"},                            // no id
		{"allow", m.SessionID},                           // there is no such thing
	} {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: revstream.DefaultKey, Values: vals}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	other := c.session(t)
	c.hanko.Revoke(other.SessionID)
	waitRevoked(t, other.Token, 5*time.Second, r) // read past the garbage
	if !revoked(r, m.Token) {
		t.Fatal("a stream entry undid a revocation")
	}
}

// TestRedisUnreachable: without Redis a replica serves, applies webhooks
// locally, and reports the outage.
func TestRedisUnreachable(t *testing.T) {
	c := newCluster(t)
	proxy := redistest.NewProxy(t, c.redis.Addr)
	proxy.Cut()
	r := c.add(t, "redis://"+proxy.Addr) // Replayed is closed on the first failure
	m := c.session(t)
	c.hanko.Revoke(m.SessionID)
	waitRevoked(t, m.Token, 5*time.Second, r)
	if up, lag := r.stream.Status(); up || lag <= 0 {
		t.Fatalf("status %v %v", up, lag)
	}
	if d := r.stream.Describe(); !strings.Contains(d, "not connected") || !strings.Contains(d, "1 revocations waiting") {
		t.Fatalf("Describe: %q", d)
	}
}
