package hankoauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sync/singleflight"
)

// Validator checks Hanko session tokens. It is safe for concurrent use;
// create one per Hanko project and share it. Close stops its background
// work.
type Validator struct {
	cfg         Config
	validateURL string
	keys        *jwks  // nil in remote mode
	cache       *cache // nil when disabled
	revs        *revocationStore

	outage      *outage
	group       singleflight.Group // collapses concurrent work on one token
	cold        chan struct{}      // a slot per signature verification under way; nil: no bound
	coldWaiting atomic.Int32       // verifications waiting for a slot

	ready     chan struct{} // closed once the validator can judge tokens
	readyOnce sync.Once
	lastErr   atomic.Pointer[error] // the last failure of the background fetches, for Ready

	life      context.Context // ends at Close
	stop      context.CancelFunc
	done      chan struct{} // closed when the background loop has returned
	closeOnce sync.Once

	mu      sync.Mutex     // guards closed, and work.Add against Close's Wait
	closed  bool           // set by Close: no new work starts
	working sync.WaitGroup // computations under way (calls to Hanko), waited for at Close
}

// New returns a validator for cfg. It does not wait for Hanko: the JWKS
// is loaded in the background (retried until it succeeds), Ready reports
// whether it has been, and WaitReady waits for it. Validate does not need
// that wait: a call that comes before the first JWKS fetches it (or joins
// the fetch under way) itself.
func New(cfg Config) (*Validator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	v := &Validator{cfg: cfg, validateURL: cfg.APIURL + "/sessions/validate", done: make(chan struct{}), ready: make(chan struct{})}
	v.revs = newRevocationStore(cfg.MaxRevocations)
	v.outage = newOutage(&v.cfg)
	if cfg.MaxColdVerifications > 0 {
		v.cold = make(chan struct{}, cfg.MaxColdVerifications)
	}
	if cfg.CacheSize > 0 {
		v.cache = newCache(cfg.CacheSize, cfg.Now, cfg.Hooks.CacheEvicted, v.revs)
	}
	v.life, v.stop = context.WithCancel(context.Background())
	if cfg.Mode == ModeRemote {
		go func() {
			defer close(v.done)
			v.probe(v.life)
		}()
	} else {
		v.keys = &jwks{url: cfg.APIURL + "/.well-known/jwks.json", client: cfg.HTTPClient, cfg: &v.cfg, ctx: v.life, loaded: v.markReady, failed: v.setLastErr}
		go func() {
			defer close(v.done)
			v.keys.loop(v.life)
		}()
	}
	return v, nil
}

// Close stops the background JWKS refresh, cancels the calls to Hanko
// under way and waits for them, and closes the idle connections of
// Config.HTTPClient: when it returns, the validator has no goroutine and
// no connection left, and no hook runs and nothing is logged any more.
// Validate goes on answering from the keys and cache it has; a token it
// cannot judge without Hanko is ErrUnavailable. Close is safe to call
// more than once and concurrently with Validate.
func (v *Validator) Close() error {
	v.closeOnce.Do(func() {
		v.mu.Lock()
		v.closed = true // after this, no working.Add
		v.mu.Unlock()
		v.stop()
		<-v.done
		if v.keys != nil {
			v.keys.close()
		}
		v.working.Wait()
		if v.cache != nil {
			v.cache.close()
		}
		v.cfg.HTTPClient.CloseIdleConnections()
	})
	return nil
}

// startWork registers a computation that may call Hanko, so that Close
// waits for it; it reports false once Close has begun.
func (v *Validator) startWork() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return false
	}
	v.working.Add(1)
	return true
}

// markReady records that the validator can judge tokens.
func (v *Validator) markReady() { v.readyOnce.Do(func() { close(v.ready) }) }

// setLastErr records the last failure of a background fetch, for Ready.
func (v *Validator) setLastErr(err error) { v.lastErr.Store(&err) }

// notReady is Ready's error: ErrUnavailable, with the last failure.
func (v *Validator) notReady(what string) error {
	if p := v.lastErr.Load(); p != nil {
		return newError(ErrUnavailable, fmt.Errorf("%s: %w", what, *p))
	}
	return newError(ErrUnavailable, errors.New(what))
}

// Ready returns nil once the validator can judge tokens: a JWKS has been
// loaded (local and hybrid mode), or Hanko has answered (remote mode).
// Otherwise it returns an error that matches ErrUnavailable and names the
// last failure, if any (such as a refused connection).
func (v *Validator) Ready() error {
	select {
	case <-v.ready:
		return nil
	default:
	}
	if v.keys != nil {
		return v.notReady("no JWKS loaded yet")
	}
	return v.notReady("hanko has not answered yet")
}

// WaitReady waits until the validator can judge tokens (see Ready) and
// returns nil, or returns Ready's error once ctx ends or the validator is
// closed. It replaces polling Ready. After an outage at start, the
// background fetch is retried every few seconds at most, so WaitReady
// returns within seconds of Hanko's return.
func (v *Validator) WaitReady(ctx context.Context) error {
	select {
	case <-v.ready:
		return nil
	case <-ctx.Done():
	case <-v.life.Done():
	}
	if err := v.Ready(); err != nil {
		return err
	}
	return nil
}

// Now returns the time on the validator's clock (Config.Now), for edges
// that schedule work around a session's expiry.
func (v *Validator) Now() time.Time { return v.cfg.Now() }

// Mode returns the validator's mode.
func (v *Validator) Mode() Mode { return v.cfg.Mode }

// Stats is a snapshot of the validator's state, for metrics.
type Stats struct {
	CacheEntries   int       // estimated entries in the cache
	Keys           int       // usable keys in the current JWKS
	KeysFetchedAt  time.Time // when the current JWKS was fetched; zero if never
	Revocations    int       // revocations in force (sessions and users)
	RevocationsMax int       // Config.MaxRevocations
}

// Stats returns a snapshot of the validator's state.
func (v *Validator) Stats() Stats {
	var s Stats
	if v.cache != nil {
		s.CacheEntries = v.cache.len()
	}
	s.Revocations, s.RevocationsMax = v.revs.len(v.cfg.Now().UnixNano()), v.revs.capacity
	if v.keys != nil {
		if ks := v.keys.current.Load(); ks != nil {
			s.Keys, s.KeysFetchedAt = len(ks.keys), ks.fetchedAt
		}
	}
	return s
}

// Validate checks token and returns its live session, or an *Error that
// matches ErrNoToken, ErrInvalidToken (wrapping the precise reason) or
// ErrUnavailable. The context bounds the caller's wait; work shared with
// concurrent callers of the same token goes on without it.
func (v *Validator) Validate(ctx context.Context, token string) (*Session, error) {
	h := v.cfg.Hooks.Validated
	if h == nil {
		s, _, err := v.validate(ctx, token)
		return s, err
	}
	start := time.Now()
	s, path, err := v.validate(ctx, token)
	h(path, ReasonOf(err), time.Since(start))
	return s, err
}

func (v *Validator) validate(ctx context.Context, token string) (*Session, Path, error) {
	if token == "" {
		return nil, PathNone, newError(ErrNoToken, nil)
	}
	if len(token) > MaxTokenLength {
		return nil, PathNone, newError(ErrMalformed, errTooLong)
	}
	// Hash the token's bytes in place: Sum256 only reads them.
	key := sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
	if v.cache != nil {
		var stale *Session
		e, ok := v.cache.get(key)
		if ok {
			now := v.cfg.Now()
			if s, err, ok := e.lookup(now); ok {
				if h := v.cfg.Hooks.CacheLookup; h != nil {
					h(true)
				}
				return s, PathCache, err
			}
			stale = e.verified(now)
		}
		if h := v.cfg.Hooks.CacheLookup; h != nil {
			h(false)
		}
		return v.validateMiss(ctx, token, key, stale)
	}
	return v.validateMiss(ctx, token, key, nil)
}

// validateMiss does the work of a cache miss, shared with the concurrent
// callers of the same token. (A function of its own, so that the closure
// does not move the key of every cached call to the heap.)
func (v *Validator) validateMiss(ctx context.Context, token string, key [32]byte, stale *Session) (*Session, Path, error) {
	ch := v.group.DoChan(string(key[:]), func() (any, error) {
		if !v.startWork() {
			return result{path: PathNone}, newError(ErrUnavailable, errClosed)
		}
		defer v.working.Done()
		// The work is shared: no caller's cancellation ends it, Close does.
		work, cancel := context.WithCancel(context.WithoutCancel(ctx))
		defer cancel()
		defer context.AfterFunc(v.life, cancel)()
		return v.compute(work, token, key, stale)
	})
	select {
	case r := <-ch:
		res := r.Val.(result)
		if r.Err == nil && res.session != nil {
			// The shared work may have started before a revocation
			// that returned before this call began.
			if err := v.revokedError(res.session, v.cfg.Now()); err != nil {
				return nil, res.path, err
			}
		}
		return res.session, res.path, r.Err
	case <-ctx.Done():
		return nil, PathRemote, &Error{Reason: ReasonCanceled, kind: ErrUnavailable, cause: ctx.Err()}
	}
}

// result is what one computation hands to the callers that shared it.
type result struct {
	session *Session
	path    Path
}

// compute does the full check of a token that the cache could not answer,
// and caches the outcome. stale, in hybrid mode, is the session the token
// was verified as before, no longer trusted but kept for this: its
// signature and claims need no second verification, only Hanko's word.
func (v *Validator) compute(ctx context.Context, token string, key [32]byte, stale *Session) (result, error) {
	now := v.cfg.Now()
	if v.cfg.Mode == ModeRemote {
		return v.computeRemote(ctx, token, key, now)
	}
	var s *Session
	if stale != nil && v.cfg.Mode == ModeHybrid && now.Before(stale.ExpiresAt) {
		c := *stale // cached sessions are shared: never modified
		c.IdleExpiresAt = time.Time{}
		s = &c
	} else {
		var err error
		if s, err = v.verifyLocal(ctx, token, now); err != nil {
			return result{path: PathLocal}, err
		}
	}
	until := earliest(now.Add(v.cfg.RevalidateAfter), s.ExpiresAt)
	if v.cfg.Mode == ModeLocal {
		return v.store(key, &entry{session: s, until: until.UnixNano()}, s.SessionID, PathLocal, now)
	}
	if err := v.revokedError(s, now); err != nil {
		return v.store(key, &entry{err: err, until: s.ExpiresAt.UnixNano()}, "", PathLocal, now) // no need to ask Hanko
	}
	rs, err := v.remoteValidate(ctx, token)
	switch {
	case errors.Is(err, ErrRevoked):
		// Hanko has no row for this session: it stays rejected until
		// the token expires, without asking Hanko again.
		v.outage.forget(s.SessionID)
		return v.store(key, &entry{err: err, until: s.ExpiresAt.UnixNano()}, "", PathRemote, now)
	case errors.Is(err, ErrUnavailable) && v.life.Err() == nil:
		if trust, ok := v.outage.decide(s, now); ok {
			until = earliest(until, trust)
			return v.store(key, &entry{session: s, until: until.UnixNano()}, s.SessionID, PathRemote, now)
		}
		return result{path: PathRemote}, err
	case err != nil:
		return result{path: PathRemote}, err
	case rs.UserID != s.UserID || rs.SessionID != s.SessionID:
		return result{path: PathRemote}, newError(ErrSessionMismatch, nil)
	}
	v.outage.confirm(s.SessionID, now, rs.IdleExpiresAt)
	s.IdleExpiresAt = rs.IdleExpiresAt
	until = earliest(until, s.EndsAt())
	// Kept one more RevalidateAfter past until, so that the revalidation
	// of a session in use asks Hanko without verifying the signature again.
	keep := earliest(until.Add(v.cfg.RevalidateAfter), s.ExpiresAt)
	return v.store(key, &entry{session: s, until: until.UnixNano(), keep: keep.UnixNano()}, s.SessionID, PathRemote, now)
}

// computeRemote is compute in remote mode: cheap structural checks on the
// unverified claims (so garbage never reaches Hanko), then Hanko's answer.
func (v *Validator) computeRemote(ctx context.Context, token string, key [32]byte, now time.Time) (result, error) {
	tok, err := parseToken(token)
	if err != nil {
		return result{path: PathLocal}, err
	}
	var c tokenClaims
	if err := tok.jws.UnsafeClaimsWithoutVerification(&c); err != nil {
		return result{path: PathLocal}, newError(ErrMalformed, err)
	}
	if err := v.checkClaims(&c, now); err != nil {
		return result{path: PathLocal}, err
	}
	s, err := v.remoteValidate(ctx, token)
	switch {
	case errors.Is(err, ErrRevoked):
		err = newError(ErrRejected, nil)
		return v.store(key, &entry{err: err, until: now.Add(v.cfg.RevalidateAfter).UnixNano()}, "", PathRemote, now)
	case err != nil:
		return result{path: PathRemote}, err
	case s.UserID != c.Subject || s.SessionID != c.SessionID:
		return result{path: PathRemote}, newError(ErrSessionMismatch, nil)
	}
	until := earliest(now.Add(v.cfg.RevalidateAfter), s.EndsAt())
	return v.store(key, &entry{session: s, until: until.UnixNano()}, s.SessionID, PathRemote, now)
}

// store caches e and returns the result a caller gets from it: a session
// that a revocation covers (sid is its id) is stored and returned as
// revoked.
func (v *Validator) store(key [32]byte, e *entry, sid string, path Path, now time.Time) (result, error) {
	// Without the cache, validateMiss checks the revocations for every
	// caller once the work is done.
	if v.cache != nil && e.until > now.UnixNano() {
		e = v.cache.put(key, e, sid, now)
	}
	return result{session: e.session, path: path}, e.err
}

// probe asks Hanko for its JWKS until it answers, to report readiness in
// remote mode (where nothing else is fetched at start). It shares the
// JWKS loop's retry and backoff (retryLoop); any answer but a server
// error counts.
func (v *Validator) probe(ctx context.Context) {
	url := v.cfg.APIURL + "/.well-known/jwks.json"
	retryLoop(ctx, func() (time.Duration, error) {
		select {
		case <-v.ready:
			return stopRetrying, nil // a validation got an answer first
		default:
		}
		rctx, cancel := context.WithTimeout(ctx, v.cfg.RequestTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		resp, err := v.cfg.HTTPClient.Do(req)
		if err != nil {
			v.setLastErr(err)
			return 0, err
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			err := fmt.Errorf("%s answered %s", url, resp.Status)
			v.setLastErr(err)
			return 0, err
		}
		v.markReady()
		return stopRetrying, nil
	}, func() time.Duration { return startBackoffCap })
}

// earliest returns the earlier of a and b.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
