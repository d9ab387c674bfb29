package hankoauth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the revocation fields of Config.
const (
	// DefaultMaxRevocations bounds the revocations a validator keeps in
	// force. A revocation costs about 55 bytes (measured by
	// TestRevocationMemory; up to twice that just after the map grows),
	// so a full store takes 55 to 110 MB.
	DefaultMaxRevocations = 1_000_000
	// DefaultSessionLifetime is Hanko's default session.lifespan.
	DefaultSessionLifetime = 12 * time.Hour
)

// RevocationSource says where a revocation came from, for metrics.
type RevocationSource string

// The sources of revocations.
const (
	// SourceAPI: a call of RevokeSession or RevokeUser.
	SourceAPI RevocationSource = "api"
	// SourceWebhook: a webhook from Hanko that this process received.
	SourceWebhook RevocationSource = "webhook"
	// SourceStream: a revocation that another replica passed on.
	SourceStream RevocationSource = "stream"
)

// A Revocation ends one session, or every session of a user issued up to
// a time. Exactly one of SessionID and UserID is set. Applying a
// revocation is idempotent and order-independent: applying it twice, or
// two revocations in either order, has the same effect.
type Revocation struct {
	// SessionID revokes the session with this id (a token's session_id,
	// a webhook's data.id) until At, the session's expiry.
	SessionID string `json:"sid,omitempty"`
	// UserID revokes every session of this user (a token's sub) issued
	// at or before At, the time of the user's deletion.
	UserID string `json:"uid,omitempty"`
	// At is the session's expiry for a session revocation, and the time
	// of the deletion for a user revocation.
	At time.Time `json:"at"`
}

// ErrRevocationsFull is returned when a revocation cannot be kept because
// Config.MaxRevocations revocations are in force. The tokens of the
// session or user that the cache holds are rejected all the same, and
// the failure is logged; in hybrid and remote mode, Hanko's answer (after
// RevalidateAfter at most) rejects the others.
var ErrRevocationsFull = errors.New("hankoauth: revocation store is full (Config.MaxRevocations)")

// errBadRevocation is returned for a revocation without exactly one id
// or without a time.
var errBadRevocation = errors.New("hankoauth: a revocation needs exactly one of SessionID and UserID, and a time")

// errUserRevoked is the error of a session whose user was revoked.
var errUserRevoked = newError(ErrRevoked, constError("sessions of the user revoked"))

// RevokeSession makes the validator reject the session sessionID until
// until (its expiry, Hanko's data.expires_at), without asking Hanko: every
// cached token of it at once, and any of its tokens validated later, on
// every path (cache hits included). It is meant for Hanko's
// session.delete.* webhooks. It fails only with ErrRevocationsFull.
func (v *Validator) RevokeSession(sessionID string, until time.Time) error {
	_, err := v.Revoke(Revocation{SessionID: sessionID, At: until}, SourceAPI)
	return err
}

// RevokeUser makes the validator reject every session of the user userID
// issued at or before before (the time of the user's deletion), for as
// long as such a session can live (Config.SessionLifetime). It is meant
// for Hanko's user.delete webhook: Hanko deletes the user's sessions with
// the user and sends no session event. It fails only with
// ErrRevocationsFull.
func (v *Validator) RevokeUser(userID string, before time.Time) error {
	_, err := v.Revoke(Revocation{UserID: userID, At: before}, SourceAPI)
	return err
}

// Revoke applies r, coming from src, and reports whether it changed
// anything (a repeated or already covered revocation does not). A
// revocation that has already run out (a session past its expiry) changes
// nothing. A user revocation's time is capped at the validator's now.
func (v *Validator) Revoke(r Revocation, src RevocationSource) (bool, error) {
	if (r.SessionID == "") == (r.UserID == "") || r.At.IsZero() {
		return false, errBadRevocation
	}
	now := v.cfg.Now()
	var changed bool
	var err error
	if r.SessionID != "" {
		k := revocationKey(r.SessionID)
		v.outage.forget(r.SessionID) // the stale outage policy must not admit it
		changed, err = v.revs.addSession(k, r.At.UnixNano()+int64(v.cfg.Leeway), now.UnixNano())
		if v.cache != nil && r.At.After(now.Add(-v.cfg.Leeway)) {
			v.cache.revokeSession(k) // also when full: cached tokens never get in again
		}
	} else {
		k := revocationKey(r.UserID)
		before := min(r.At.UnixNano(), now.UnixNano())
		until := before + int64(v.cfg.SessionLifetime) + int64(v.cfg.Leeway)
		changed, err = v.revs.addUser(k, before, until, now.UnixNano())
		if v.cache != nil && until > now.UnixNano() {
			v.cache.revokeUser(k, before)
		}
	}
	switch {
	case err != nil:
		if h := v.cfg.Hooks.RevocationRefused; h != nil {
			h(src)
		}
		v.revs.logFull(v, src)
	case changed:
		if h := v.cfg.Hooks.RevocationApplied; h != nil {
			h(src)
		}
		v.revs.checkCeiling(v)
	}
	return changed, err
}

// revokedError returns the error for session s at now if a revocation
// in force covers it, else nil.
func (v *Validator) revokedError(s *Session, now time.Time) error {
	if v.revs.active.Load() == 0 {
		return nil // nothing revoked: skip hashing the ids
	}
	sid, uid := revocationKey(s.SessionID), revocationKey(s.UserID)
	return v.revs.check(sid, uid, issuedAtNanos(s), now.UnixNano())
}

// issuedAtNanos is the session's iat in unix ns, or the smallest time
// after noRevocation when the token carried none (so that any user
// revocation covers it).
func issuedAtNanos(s *Session) int64 {
	if s.IssuedAt.IsZero() {
		return noRevocation + 1
	}
	return s.IssuedAt.UnixNano()
}

// noRevocation is the "revoked before" time of a user without
// revocation: before every issued-at time.
const noRevocation = math.MinInt64

// revKey is the key of a session or user id in the revocation store and
// the cache's indexes: the 16 bytes of a UUID (Hanko's ids are UUIDs, in
// any case and form its parser accepts), or the first 16 bytes of the
// SHA-256 of any other id. Sixteen bytes, no pointer: a small map entry
// that the garbage collector does not scan.
type revKey [16]byte

// revocationKey returns the key of id.
func revocationKey(id string) revKey {
	if k, ok := parseUUIDKey(id); ok {
		return k
	}
	sum := sha256.Sum256([]byte("hankoauth id\x00" + id))
	var k revKey
	copy(k[:], sum[:])
	return k
}

// parseUUIDKey parses a canonical UUID (8-4-4-4-12 hex digits, either
// case), or 32 hex digits.
func parseUUIDKey(s string) (revKey, bool) {
	var k revKey
	var buf [32]byte
	switch len(s) {
	case 36:
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return k, false
		}
		n := copy(buf[:], s[0:8])
		n += copy(buf[n:], s[9:13])
		n += copy(buf[n:], s[14:18])
		n += copy(buf[n:], s[19:23])
		copy(buf[n:], s[24:])
	case 32:
		copy(buf[:], s)
	default:
		return k, false
	}
	if _, err := hex.Decode(k[:], buf[:]); err != nil {
		return k, false
	}
	return k, true
}

// revocationStore keeps the revocations in force, each until it runs
// out: a session's until its expiry, a user's until no session issued
// before it can be alive. It is bounded by capacity and never drops a
// revocation in force: when full, adding one fails. Expired revocations
// leave through a min-heap on their end time, so that no operation scans
// the store.
type revocationStore struct {
	capacity int
	active   atomic.Int64 // len(sessions) + len(users), for Stats without the lock

	mu       sync.Mutex
	sessions map[revKey]int64          // session -> unix ns until which it is revoked
	users    map[revKey]userRevocation // user -> its revocation
	queue    []expiry                  // min-heap on until; stale items are skipped
	warned   bool                      // the near-ceiling warning was logged
	lastFull atomic.Int64              // unix ns of the last "full" log line
}

type userRevocation struct {
	before int64 // sessions issued at or before this (unix ns) are revoked
	until  int64 // the revocation runs out then (unix ns)
}

// expiry is one heap item: the revocation of key (a user's when user is
// set) runs out at until, unless it was extended since.
type expiry struct {
	until int64
	key   revKey
	user  bool
}

func newRevocationStore(capacity int) *revocationStore {
	return &revocationStore{
		capacity: capacity,
		sessions: make(map[revKey]int64),
		users:    make(map[revKey]userRevocation),
	}
}

// addSession revokes session k until until (unix ns).
func (s *revocationStore) addSession(k revKey, until, now int64) (bool, error) {
	if until <= now {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge(now)
	old, ok := s.sessions[k]
	if ok && old >= until {
		return false, nil
	}
	if !ok && s.full() {
		return false, ErrRevocationsFull
	}
	s.sessions[k] = until
	s.push(expiry{until: until, key: k})
	s.active.Store(int64(len(s.sessions) + len(s.users)))
	return true, nil
}

// addUser revokes the sessions of user k issued at or before before,
// until until (unix ns).
func (s *revocationStore) addUser(k revKey, before, until, now int64) (bool, error) {
	if until <= now {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge(now)
	old, ok := s.users[k]
	if ok && old.before >= before {
		return false, nil
	}
	if !ok && s.full() {
		return false, ErrRevocationsFull
	}
	s.users[k] = userRevocation{before: before, until: until}
	s.push(expiry{until: until, key: k, user: true})
	s.active.Store(int64(len(s.sessions) + len(s.users)))
	return true, nil
}

func (s *revocationStore) full() bool { return len(s.sessions)+len(s.users) >= s.capacity }

// check returns the error of a session (sid, uid, issued at iat) that a
// revocation in force covers at now, else nil.
func (s *revocationStore) check(sid, uid revKey, iat, now int64) error {
	if s.active.Load() == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if until, ok := s.sessions[sid]; ok && now < until {
		return errRevokedHere
	}
	if u, ok := s.users[uid]; ok && now < u.until && iat <= u.before {
		return errUserRevoked
	}
	return nil
}

// userBefore returns the time up to which sessions of user k are revoked
// at now, or noRevocation.
func (s *revocationStore) userBefore(k revKey, now int64) int64 {
	if s.active.Load() == 0 {
		return noRevocation
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[k]; ok && now < u.until {
		return u.before
	}
	return noRevocation
}

// len returns the revocations in force at now.
func (s *revocationStore) len(now int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge(now)
	return len(s.sessions) + len(s.users)
}

// purge forgets the revocations that have run out at now: each costs
// O(log n), and nothing else is looked at. s.mu must be held.
func (s *revocationStore) purge(now int64) {
	for len(s.queue) > 0 && s.queue[0].until <= now {
		e := s.pop()
		if e.user {
			if u, ok := s.users[e.key]; ok && u.until == e.until {
				delete(s.users, e.key)
			}
		} else if until, ok := s.sessions[e.key]; ok && until == e.until {
			delete(s.sessions, e.key)
		}
	}
	s.active.Store(int64(len(s.sessions) + len(s.users)))
	if s.warned && len(s.sessions)+len(s.users) < s.capacity*8/10 {
		s.warned = false
	}
}

func (s *revocationStore) push(e expiry) {
	s.queue = append(s.queue, e)
	i := len(s.queue) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s.queue[p].until <= s.queue[i].until {
			break
		}
		s.queue[p], s.queue[i] = s.queue[i], s.queue[p]
		i = p
	}
}

func (s *revocationStore) pop() expiry {
	q := s.queue
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(q) && q[l].until < q[m].until {
			m = l
		}
		if r < len(q) && q[r].until < q[m].until {
			m = r
		}
		if m == i {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	s.queue = q
	if cap(q) > 1024 && len(q) < cap(q)/4 {
		s.queue = append(make([]expiry, 0, cap(q)/2), q...) // give memory back
	}
	return top
}

// checkCeiling logs a warning once when the store fills past 90 % of its
// capacity (again after it went below 80 %).
func (s *revocationStore) checkCeiling(v *Validator) {
	n := int(s.active.Load())
	if n < s.capacity*9/10 {
		return
	}
	s.mu.Lock()
	warn := !s.warned
	s.warned = true
	s.mu.Unlock()
	if warn {
		v.cfg.Logger.Warn("hankoauth: revocation store nearly full; raise MaxRevocations (--max-revocations) before revocations are refused",
			"revocations", n, "capacity", s.capacity)
	}
}

// logFull logs a refused revocation, at most once a second.
func (s *revocationStore) logFull(v *Validator, src RevocationSource) {
	now := time.Now().UnixNano()
	last := s.lastFull.Load()
	if now-last < int64(time.Second) || !s.lastFull.CompareAndSwap(last, now) {
		return
	}
	v.cfg.Logger.Error("hankoauth: revocation refused: the revocation store is full; cached tokens of it are rejected, others only after RevalidateAfter",
		"source", string(src), "capacity", s.capacity, "error", fmt.Sprint(ErrRevocationsFull))
}
