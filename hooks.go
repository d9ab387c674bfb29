package hankoauth

import "time"

// Path names the way a Validate call was decided.
type Path string

const (
	// PathCache: answered from the cache.
	PathCache Path = "cached"
	// PathLocal: decided by local verification alone (a rejection, or an
	// acceptance in local mode).
	PathLocal Path = "local"
	// PathRemote: decided with a call to Hanko (or by waiting for one that
	// another caller made).
	PathRemote Path = "remote"
	// PathNone: decided before any verification (no token, too long).
	PathNone Path = "none"
)

// Hooks observe a Validator, for metrics. Each field may be nil. Hooks are
// called synchronously on the validating goroutine and must be fast and
// safe for concurrent use. They never see a token.
type Hooks struct {
	// Validated is called once per Validate call.
	Validated func(path Path, reason Reason, elapsed time.Duration)
	// CacheLookup is called on every cache lookup, hit or miss.
	CacheLookup func(hit bool)
	// CacheEvicted is called when the cache drops an entry to make room
	// (not when an entry expires).
	CacheEvicted func()
	// HankoRequest is called after each call to /sessions/validate with
	// its outcome ("valid", "invalid", "bad_request", "error") and latency.
	HankoRequest func(outcome string, elapsed time.Duration)
	// OutageDecision is called for each token that verified locally but
	// whose session Hanko could not be asked about, with the outage policy
	// and whether it allowed the session.
	OutageDecision func(policy OutagePolicy, allowed bool)
	// KeysRefreshed is called after each JWKS fetch with its outcome ("ok"
	// or "error"), and the number of usable keys then in use.
	KeysRefreshed func(outcome string, keys int)
	// RevocationApplied is called when Revoke (or RevokeSession,
	// RevokeUser) changed the revocations in force.
	RevocationApplied func(source RevocationSource)
	// RevocationRefused is called when a revocation could not be kept
	// because the store is full (ErrRevocationsFull).
	RevocationRefused func(source RevocationSource)
}
