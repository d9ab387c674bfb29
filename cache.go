package hankoauth

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// entry is one cached result: a session or a rejection, trusted until
// until. Entries are immutable once stored, but for their state's revoked
// flag.
type entry struct {
	session *Session      // nil for a rejection
	err     error         // the rejection, nil for a session
	until   int64         // unix nanoseconds: not trusted from then on
	keep    int64         // unix nanoseconds: kept until then (at least until), for revalidation
	state   *sessionState // shared by the entries of one session id; nil for rejections
}

// sessionState is what all cached tokens of one session id share, so that
// revoking the session reaches each of them with one store.
type sessionState struct {
	revoked atomic.Bool
	sid     string // the session id; immutable
	refs    int    // cached entries that point here; guarded by cache.mu
}

// errRevokedHere is the error of a session revoked through RevokeSession.
var errRevokedHere = newError(ErrRevoked, constError("session revoked by its id"))

// verified returns the session of an entry no longer trusted but still
// kept at now, for its revalidation; nil for a rejection or a session
// revoked by its id.
func (e *entry) verified(now time.Time) *Session {
	if e.session == nil || now.UnixNano() >= e.keep || (e.state != nil && e.state.revoked.Load()) {
		return nil
	}
	return e.session
}

// lookup returns the entry's result if it may still be trusted at now.
func (e *entry) lookup(now time.Time) (*Session, error, bool) {
	if now.UnixNano() >= e.until {
		return nil, nil, false
	}
	if e.state != nil && e.state.revoked.Load() {
		return nil, errRevokedHere, true
	}
	return e.session, e.err, true
}

// cache holds validation results by the SHA-256 of the token, bounded in
// size (otter's S3-FIFO eviction) and in time (each entry expires at its
// until). A second index by session id makes RevokeSession cheap: it
// flips one flag that every cached token of the session shares.
type cache struct {
	c *otter.Cache[[32]byte, *entry]

	mu       sync.Mutex               // guards the fields below
	sessions map[string]*sessionState // session id -> state, while entries point at it
	revoked  map[string]int64         // session id -> unix ns until which it stays revoked
	max      int
}

func newCache(size int, now func() time.Time, evicted func()) *cache {
	c := &cache{sessions: make(map[string]*sessionState), revoked: make(map[string]int64), max: size}
	c.c = otter.Must(&otter.Options[[32]byte, *entry]{
		MaximumSize: size,
		ExpiryCalculator: otter.ExpiryCreatingFunc(func(e otter.Entry[[32]byte, *entry]) time.Duration {
			return max(time.Duration(max(e.Value.until, e.Value.keep)-now().UnixNano()), time.Millisecond)
		}),
		OnAtomicDeletion: func(e otter.DeletionEvent[[32]byte, *entry]) {
			if e.Cause == otter.CauseOverflow && evicted != nil {
				evicted()
			}
			c.release(e.Value)
		},
	})
	return c
}

func (c *cache) get(key [32]byte) (*entry, bool) { return c.c.GetIfPresent(key) }

// put stores e for key; sid links a session entry to its session's state.
// A session revoked by id is stored as a rejection, and put returns the
// entry it stored.
func (c *cache) put(key [32]byte, e *entry, sid string, now time.Time) *entry {
	if sid != "" && e.session != nil {
		c.mu.Lock()
		if until, ok := c.revoked[sid]; ok && now.UnixNano() < until {
			c.mu.Unlock()
			e = &entry{err: errRevokedHere, until: e.until}
		} else {
			st := c.sessions[sid]
			if st == nil {
				st = &sessionState{sid: sid}
				c.sessions[sid] = st
			}
			st.refs++
			e.state = st
			c.mu.Unlock()
		}
	}
	c.c.Set(key, e)
	return e
}

// release unlinks a deleted entry from its session's state.
func (c *cache) release(e *entry) {
	if e.state == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e.state.refs--
	if e.state.refs <= 0 && c.sessions[e.state.sid] == e.state {
		delete(c.sessions, e.state.sid)
	}
}

// revoke marks the session sid revoked until until (unix ns): its cached
// tokens are rejected from now on, and so are tokens of it cached later.
func (c *cache) revoke(sid string, until int64, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.revoked) >= c.max {
		n := now.UnixNano()
		for k, u := range c.revoked {
			if u <= n {
				delete(c.revoked, k)
			}
		}
	}
	if len(c.revoked) < c.max {
		c.revoked[sid] = until
	}
	st := c.sessions[sid]
	if st == nil {
		return false
	}
	st.revoked.Store(true)
	return true
}

func (c *cache) len() int { return c.c.EstimatedSize() }

func (c *cache) close() { c.c.StopAllGoroutines() }
