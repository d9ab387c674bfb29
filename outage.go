package hankoauth

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// OutagePolicy says what a hybrid-mode validator does with a token that
// verifies locally when Hanko cannot be asked about its session (Hanko
// unreachable, timing out or answering 5xx).
type OutagePolicy int

const (
	// OutageDeny (the default) fails closed: the token is rejected with
	// ErrUnavailable until Hanko answers again. A Hanko outage takes every
	// session down within RevalidateAfter.
	OutageDeny OutagePolicy = iota
	// OutageStale keeps a session working if Hanko confirmed it within
	// OutageGrace (and its idle expiry, as Hanko last reported it, has not
	// passed); sessions Hanko has not confirmed within the grace period,
	// new ones included, fail closed. A session revoked during the outage
	// gets in until its grace period ends.
	OutageStale
	// OutageLocal accepts every token that verifies locally, as ModeLocal
	// does: blind to revocation while Hanko is down.
	OutageLocal
)

// DefaultOutageGrace is the default of Config.OutageGrace.
const DefaultOutageGrace = 10 * time.Minute

func (p OutagePolicy) String() string {
	switch p {
	case OutageDeny:
		return "deny"
	case OutageStale:
		return "stale"
	case OutageLocal:
		return "local"
	}
	return fmt.Sprintf("OutagePolicy(%d)", int(p))
}

// ParseOutagePolicy parses "deny", "stale" or "local".
func ParseOutagePolicy(s string) (OutagePolicy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "deny", "":
		return OutageDeny, nil
	case "stale":
		return OutageStale, nil
	case "local":
		return OutageLocal, nil
	}
	return 0, fmt.Errorf("hankoauth: unknown outage policy %q (want deny, stale or local)", s)
}

// OutageStatus says whether the validator is serving under its outage
// policy.
type OutageStatus struct {
	Policy OutagePolicy
	Grace  time.Duration // Config.OutageGrace
	// Since is when Hanko's session validation started to fail; zero while
	// Hanko answers.
	Since time.Time
}

// Degraded reports whether Hanko is failing, so that sessions are decided
// by the outage policy.
func (s OutageStatus) Degraded() bool { return !s.Since.IsZero() }

// Outage returns the validator's outage state.
func (v *Validator) Outage() OutageStatus {
	st := OutageStatus{Policy: v.cfg.Outage, Grace: v.cfg.OutageGrace}
	if ns := v.outage.down.Load(); ns != 0 {
		st.Since = time.Unix(0, ns)
	}
	return st
}

// outage tracks Hanko's availability and applies the outage policy.
type outage struct {
	policy OutagePolicy
	grace  time.Duration
	max    int // bound of confirmed and logged
	log    *slog.Logger
	hooks  *Hooks

	down atomic.Int64 // unix ns when Hanko started failing; 0 while it answers

	mu        sync.Mutex
	confirmed map[string]confirmation // session id -> Hanko's last confirmation (stale policy)
	logged    map[string]struct{}     // sessions logged during the current outage
}

// confirmation is Hanko's last word on a live session.
type confirmation struct {
	at        int64 // unix ns
	idleUntil int64 // unix ns, 0 when Hanko reported no idle expiry
}

func newOutage(cfg *Config) *outage {
	n := cfg.CacheSize
	if n <= 0 {
		n = DefaultCacheSize
	}
	return &outage{
		policy: cfg.Outage, grace: cfg.OutageGrace, max: n, log: cfg.Logger, hooks: cfg.Hooks,
		confirmed: make(map[string]confirmation), logged: make(map[string]struct{}),
	}
}

// answered records that Hanko answered a session validation.
func (o *outage) answered(now time.Time) {
	since := o.down.Load()
	if since == 0 || !o.down.CompareAndSwap(since, 0) {
		return
	}
	o.mu.Lock()
	clear(o.logged)
	o.mu.Unlock()
	o.log.Warn("hankoauth: hanko answers again; the outage policy no longer applies",
		"policy", o.policy.String(), "outage", now.Sub(time.Unix(0, since)).Round(time.Millisecond))
}

// failed records that Hanko could not be asked.
func (o *outage) failed(now time.Time) {
	if o.down.Load() != 0 || !o.down.CompareAndSwap(0, now.UnixNano()) {
		return
	}
	o.log.Warn("hankoauth: hanko unreachable; sessions are decided by the outage policy",
		"policy", o.policy.String(), "grace", o.grace)
}

// confirm records that Hanko confirmed session sid at now.
func (o *outage) confirm(sid string, now, idleUntil time.Time) {
	if o.policy != OutageStale {
		return
	}
	c := confirmation{at: now.UnixNano()}
	if !idleUntil.IsZero() {
		c.idleUntil = idleUntil.UnixNano()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.confirmed[sid]; !ok && len(o.confirmed) >= o.max {
		oldest := now.Add(-o.grace).UnixNano()
		for k, v := range o.confirmed {
			if v.at < oldest {
				delete(o.confirmed, k)
			}
		}
		for k := range o.confirmed {
			if len(o.confirmed) < o.max {
				break
			}
			delete(o.confirmed, k) // full of fresh sessions: drop any one
		}
	}
	o.confirmed[sid] = c
}

// forget drops what is known of session sid: it was revoked.
func (o *outage) forget(sid string) {
	if o.policy != OutageStale {
		return
	}
	o.mu.Lock()
	delete(o.confirmed, sid)
	o.mu.Unlock()
}

// decide applies the policy to session s, which verified locally but
// which Hanko could not be asked about. It returns how long an allowed
// session may be trusted (zero when denied).
func (o *outage) decide(s *Session, now time.Time) (until time.Time, allowed bool) {
	switch o.policy {
	case OutageLocal:
		until, allowed = s.ExpiresAt, true
	case OutageStale:
		o.mu.Lock()
		c, ok := o.confirmed[s.SessionID]
		o.mu.Unlock()
		n := now.UnixNano()
		if ok && n-c.at <= int64(o.grace) && (c.idleUntil == 0 || n < c.idleUntil) {
			until, allowed = time.Unix(0, c.at).Add(o.grace), true
			if c.idleUntil != 0 {
				until = earliest(until, time.Unix(0, c.idleUntil))
			}
		}
	}
	if h := o.hooks.OutageDecision; h != nil {
		h(o.policy, allowed)
	}
	o.logOnce(s, allowed)
	return until, allowed
}

// logOnce logs the decision on s, once per session and outage.
func (o *outage) logOnce(s *Session, allowed bool) {
	o.mu.Lock()
	_, seen := o.logged[s.SessionID]
	if !seen && len(o.logged) < o.max {
		o.logged[s.SessionID] = struct{}{}
	} else {
		seen = true
	}
	o.mu.Unlock()
	if seen {
		return
	}
	result := "deny"
	if allowed {
		result = "allow"
	}
	o.log.Warn("hankoauth: hanko unreachable; session decided by the outage policy",
		"policy", o.policy.String(), "result", result, "session_id", s.SessionID)
}
