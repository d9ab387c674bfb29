package revstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hankoauth/hankoauth"
)

// Defaults of the options.
const (
	// DefaultKey is the key of the Redis Stream.
	DefaultKey = "hankoauth:revocations"
	// DefaultRetention is Hanko's default session lifetime (12 h) plus a
	// margin for clock skew.
	DefaultRetention = hankoauth.DefaultSessionLifetime + 2*time.Minute
	// maxPending bounds the revocations waiting to be appended while
	// Redis is unreachable.
	maxPending = 100_000
	// batch is the most entries read or appended at once.
	batch = 1000
)

// Option configures a Stream.
type Option func(*Stream)

// WithKey sets the key of the stream (DefaultKey), for several
// deployments sharing one Redis.
func WithKey(key string) Option { return func(s *Stream) { s.key = key } }

// WithRetention sets how long entries are kept in the stream: at least
// the longest session lifetime (Hanko's session.lifespan) plus a margin.
// Default DefaultRetention.
func WithRetention(d time.Duration) Option { return func(s *Stream) { s.retention = d } }

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(s *Stream) { s.log = l } }

// WithBlock sets how long one XREAD waits for new entries (default 5 s);
// shorter makes an outage noticed sooner when the connection hangs.
func WithBlock(d time.Duration) Option { return func(s *Stream) { s.block = d } }

// Stream fans revocations out through a Redis Stream. Create it with New
// or Open, start it with Start, stop it with Close.
type Stream struct {
	client    *redis.Client
	ownClient bool
	v         *hankoauth.Validator
	key       string
	retention time.Duration
	block     time.Duration
	log       *slog.Logger

	mu      sync.Mutex
	pending []hankoauth.Revocation // to append, oldest first
	wake    chan struct{}          // signals the writer

	up          atomic.Bool  // the last read or append succeeded
	following   atomic.Bool  // the reader has read all there is, and is connected
	caughtUpAt  atomic.Int64 // unix ns of the last time the reader had read all there was
	downSince   atomic.Int64 // unix ns of the start of the current outage, 0 when up
	replayed    chan struct{}
	replayOnce  sync.Once
	startedAt   time.Time    // immutable
	applied     atomic.Int64 // entries read and applied (changed something)
	appended    atomic.Int64
	downLogOnce atomic.Bool // the current outage was logged

	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once
}

// Open connects to the Redis that url names (redis:// or rediss://, with
// user, password and database as go-redis parses them) and returns a
// Stream for v. The URL is not dialled yet: an unreachable Redis is
// reported once the Stream is started.
func Open(url string, v *hankoauth.Validator, opts ...Option) (*Stream, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("revstream: %w", err)
	}
	if o.ClientName == "" {
		o.ClientName = "hanko-authz"
	}
	s := New(redis.NewClient(o), v, opts...)
	s.ownClient = true
	return s, nil
}

// New returns a Stream for v over client. Close does not close client.
func New(client *redis.Client, v *hankoauth.Validator, opts ...Option) *Stream {
	s := &Stream{
		client:    client,
		v:         v,
		key:       DefaultKey,
		retention: DefaultRetention,
		block:     5 * time.Second,
		log:       slog.New(slog.DiscardHandler),
		wake:      make(chan struct{}, 1),
		replayed:  make(chan struct{}),
		startedAt: time.Now(),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Start starts reading and appending in the background.
func (s *Stream) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.downSince.Store(time.Now().UnixNano()) // not up until a first success
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.read(ctx) }()
	go func() { defer s.wg.Done(); s.write(ctx) }()
}

// Close stops the Stream and waits for its goroutines; it closes the
// client if Open made it. Revocations not yet appended are lost to the
// other replicas (they were applied here).
func (s *Stream) Close() error {
	var err error
	s.closed.Do(func() {
		if s.cancel != nil {
			s.cancel()
			s.wg.Wait()
		}
		if s.ownClient {
			err = s.client.Close()
		}
		if n := s.pendingLen(); n > 0 {
			s.log.Warn("revocation stream closed with revocations not appended", "pending", n)
		}
	})
	return err
}

// Replayed is closed once the Stream has read every entry the stream held
// at start, or has failed to reach Redis once: from then on, serving does
// not wait for Redis.
func (s *Stream) Replayed() <-chan struct{} { return s.replayed }

// Status reports whether the stream is followed (connected, all entries
// read), and how far behind this replica may be: 0 while it follows, else
// the time since it last had read all there was (or since Start).
func (s *Stream) Status() (up bool, lag time.Duration) {
	if s.following.Load() && s.up.Load() {
		return true, 0
	}
	since := s.caughtUpAt.Load()
	if since == 0 {
		since = s.startedAt.UnixNano()
	}
	return false, time.Duration(time.Now().UnixNano() - since)
}

// Describe is a one-line state of the stream, for /readyz.
func (s *Stream) Describe() string {
	up, lag := s.Status()
	if up {
		return fmt.Sprintf("revocation stream: following %s", s.key)
	}
	return fmt.Sprintf("revocation stream: not connected for %s (%d revocations waiting to be sent); revalidation is the backstop",
		lag.Round(time.Second), s.pendingLen())
}

// Revoke applies r to the local validator, then queues it to be appended
// to the stream for the other replicas. It never waits for Redis. It
// implements webhook.Revoker.
func (s *Stream) Revoke(r hankoauth.Revocation, src hankoauth.RevocationSource) (bool, error) {
	changed, err := s.v.Revoke(r, src)
	if err != nil && !errors.Is(err, hankoauth.ErrRevocationsFull) {
		return changed, err // malformed: nothing to pass on
	}
	s.mu.Lock()
	if len(s.pending) >= maxPending {
		s.pending = s.pending[1:]
		s.log.Error("revocation stream: too many revocations waiting for Redis; the oldest is not passed on", "pending", maxPending)
	}
	s.pending = append(s.pending, r)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return changed, err
}

func (s *Stream) pendingLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// write appends pending revocations until ctx ends.
func (s *Stream) write(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for {
		s.mu.Lock()
		n := min(len(s.pending), batch)
		todo := append([]hankoauth.Revocation(nil), s.pending[:n]...)
		s.mu.Unlock()
		if n > 0 {
			if err := s.append(ctx, todo); err != nil {
				if ctx.Err() != nil {
					return
				}
				s.down(err)
				if !sleep(ctx, backoff) {
					return
				}
				backoff = min(backoff*2, 5*time.Second)
				continue
			}
			backoff = 100 * time.Millisecond
			s.mu.Lock()
			s.pending = s.pending[n:]
			if len(s.pending) == 0 {
				s.pending = nil // let the backing array go
			}
			s.mu.Unlock()
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
	}
}

// append adds rs to the stream in one round trip, trimming what is older
// than the retention.
func (s *Stream) append(ctx context.Context, rs []hankoauth.Revocation) error {
	now := time.Now()
	minID := strconv.FormatInt(now.Add(-s.retention).UnixMilli(), 10) + "-0"
	pipe := s.client.Pipeline()
	for _, r := range rs {
		kind, id := "s", r.SessionID
		if r.UserID != "" {
			kind, id = "u", r.UserID
		}
		pipe.XAdd(ctx, &redis.XAddArgs{
			Stream: s.key,
			MinID:  minID,
			Approx: true,
			Values: []any{"k", kind, "id", id, "at", strconv.FormatInt(r.At.UnixNano(), 10)},
		})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	s.appended.Add(int64(len(rs)))
	s.isUp()
	return nil
}

// read follows the stream until ctx ends: first everything it holds,
// then new entries as they come.
func (s *Stream) read(ctx context.Context) {
	lastID := "0"
	backoff := 100 * time.Millisecond
	reconnected := false
	for ctx.Err() == nil {
		if reconnected {
			lastID = s.checkReset(ctx, lastID)
			reconnected = false
		}
		res, err := s.client.XRead(ctx, &redis.XReadArgs{Streams: []string{s.key, lastID}, Count: batch, Block: s.block}).Result()
		if errors.Is(err, redis.Nil) { // nothing new within block: caught up
			s.caughtUp()
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.following.Store(false)
			s.down(err)
			s.replayOnce.Do(func() { close(s.replayed) }) // do not hold serving back
			reconnected = true
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		s.isUp()
		n := 0
		for _, st := range res {
			for _, m := range st.Messages {
				s.apply(m)
				lastID = m.ID
				n++
			}
		}
		if n < batch {
			s.caughtUp()
		} else {
			s.following.Store(false)
		}
	}
}

// checkReset returns the ID to read on from after a reconnection: lastID,
// or "0" when the stream no longer holds it (Redis lost its data).
func (s *Stream) checkReset(ctx context.Context, lastID string) string {
	if lastID == "0" {
		return lastID
	}
	info, err := s.client.XInfoStream(ctx, s.key).Result()
	if err != nil || idLess(info.LastGeneratedID, lastID) {
		s.log.Warn("revocation stream was reset; reading it again from the start", "key", s.key)
		return "0"
	}
	return lastID
}

// apply applies one entry. A malformed entry is logged and skipped.
func (s *Stream) apply(m redis.XMessage) {
	r, err := parseEntry(m.Values)
	if err != nil {
		s.log.Warn("revocation stream: malformed entry skipped", "id", m.ID, "error", err.Error())
		return
	}
	changed, err := s.v.Revoke(r, hankoauth.SourceStream)
	if err != nil {
		return // logged by the validator (full)
	}
	if changed {
		s.applied.Add(1)
	}
}

// parseEntry reads the fields k ("s" or "u"), id and at (unix ns).
func parseEntry(v map[string]any) (hankoauth.Revocation, error) {
	kind, _ := v["k"].(string)
	id, _ := v["id"].(string)
	at, _ := v["at"].(string)
	ns, err := strconv.ParseInt(at, 10, 64)
	if err != nil || id == "" || len(id) > 256 {
		return hankoauth.Revocation{}, errors.New("bad id or at")
	}
	t := time.Unix(0, ns)
	switch kind {
	case "s":
		return hankoauth.Revocation{SessionID: id, At: t}, nil
	case "u":
		return hankoauth.Revocation{UserID: id, At: t}, nil
	}
	return hankoauth.Revocation{}, fmt.Errorf("unknown kind %q", kind)
}

func (s *Stream) caughtUp() {
	s.isUp()
	s.following.Store(true)
	s.caughtUpAt.Store(time.Now().UnixNano())
	s.replayOnce.Do(func() {
		s.log.Info("revocation stream replayed", "key", s.key, "applied", s.applied.Load())
		close(s.replayed)
	})
}

// isUp records a success; it logs the end of an outage.
func (s *Stream) isUp() {
	if s.up.Swap(true) {
		return
	}
	since := s.downSince.Swap(0)
	if s.downLogOnce.Swap(false) && since != 0 {
		s.log.Info("revocation stream connected again; catching up", "key", s.key, "down_for", time.Duration(time.Now().UnixNano()-since).Round(time.Millisecond))
	}
}

// down records a failure; it logs the start of an outage once.
func (s *Stream) down(err error) {
	s.up.Store(false)
	s.downSince.CompareAndSwap(0, time.Now().UnixNano())
	if !s.downLogOnce.Swap(true) {
		s.log.Warn("revocation stream: Redis unreachable; serving with revalidation as the backstop, retrying",
			"key", s.key, "error", err.Error())
	}
}

// idLess compares two stream IDs ("ms-seq").
func idLess(a, b string) bool {
	am, as := splitID(a)
	bm, bs := splitID(b)
	return am < bm || (am == bm && as < bs)
}

func splitID(id string) (uint64, uint64) {
	ms, seq, _ := strings.Cut(id, "-")
	m, _ := strconv.ParseUint(ms, 10, 64)
	q, _ := strconv.ParseUint(seq, 10, 64)
	return m, q
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
