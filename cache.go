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
	iat     int64         // the session's issued-at (unix ns), for user revocations
}

// sessionState is what all cached tokens of one session id share, so that
// revoking the session reaches each of them with one store.
type sessionState struct {
	revoked atomic.Bool
	sid     revKey     // the session id; immutable
	user    *userState // the session's user; immutable
	refs    int        // cached entries that point here; guarded by cache.mu
}

// userState is what the session states of one user share, so that
// revoking the user reaches each of its cached tokens with one store.
type userState struct {
	before atomic.Int64 // sessions issued at or before this (unix ns) are revoked
	uid    revKey       // immutable
	refs   int          // session states that point here; guarded by cache.mu
}

// errRevokedHere is the error of a session revoked by its id (Revoke:
// RevokeSession, a webhook or the revocation stream).
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
	if st := e.state; st != nil {
		if st.revoked.Load() {
			return nil, errRevokedHere, true
		}
		if e.iat <= st.user.before.Load() {
			return nil, errUserRevoked, true
		}
	}
	return e.session, e.err, true
}

// cache holds validation results by the SHA-256 of the token, bounded in
// size (otter's S3-FIFO eviction) and in time (each entry expires at its
// until). Indexes by session and user id make revocations cheap: one
// store to a flag that every cached token of the session (or user)
// shares, read with an atomic load on every hit.
type cache struct {
	c    *otter.Cache[[32]byte, *entry]
	revs *revocationStore // consulted under mu when an entry is linked

	mu       sync.Mutex               // guards the fields below
	sessions map[revKey]*sessionState // session id -> state, while entries point at it
	users    map[revKey]*userState    // user id -> state, while session states point at it
}

func newCache(size int, now func() time.Time, evicted func(), revs *revocationStore) *cache {
	c := &cache{revs: revs, sessions: make(map[revKey]*sessionState), users: make(map[revKey]*userState)}
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

// put stores e for key, linking a session entry to its session's and
// user's state. A session that a revocation in force covers is stored as
// a rejection, and put returns the entry it stored.
func (c *cache) put(key [32]byte, e *entry, sid string, now time.Time) *entry {
	if s := e.session; s != nil && sid != "" {
		sk, uk := revocationKey(sid), revocationKey(s.UserID)
		e.iat = issuedAtNanos(s)
		c.mu.Lock()
		// Under mu, so that a revocation applied meanwhile either is
		// seen here or finds the state linked below.
		if err := c.revs.check(sk, uk, e.iat, now.UnixNano()); err != nil {
			c.mu.Unlock()
			e = &entry{err: err, until: e.until}
		} else {
			st := c.sessions[sk]
			if st != nil && st.user.uid != uk {
				// One session id, two users: Hanko never signs that.
				// Do not cache it rather than mix up their states.
				c.mu.Unlock()
				return e
			}
			if st == nil {
				us := c.users[uk]
				if us == nil {
					us = &userState{uid: uk}
					us.before.Store(c.revs.userBefore(uk, now.UnixNano()))
					c.users[uk] = us
				}
				us.refs++
				st = &sessionState{sid: sk, user: us}
				c.sessions[sk] = st
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
	st := e.state
	st.refs--
	if st.refs > 0 || c.sessions[st.sid] != st {
		return
	}
	delete(c.sessions, st.sid)
	st.user.refs--
	if st.user.refs <= 0 && c.users[st.user.uid] == st.user {
		delete(c.users, st.user.uid)
	}
}

// revokeSession rejects the cached tokens of session sid from now on.
func (c *cache) revokeSession(sid revKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.sessions[sid]; st != nil {
		st.revoked.Store(true)
	}
}

// revokeUser rejects the cached tokens of user uid issued at or before
// before (unix ns) from now on.
func (c *cache) revokeUser(uid revKey, before int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if us := c.users[uid]; us != nil && us.before.Load() < before {
		us.before.Store(before)
	}
}

func (c *cache) len() int { return c.c.EstimatedSize() }

func (c *cache) close() { c.c.StopAllGoroutines() }
