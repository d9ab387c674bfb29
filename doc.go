// Package hankoauth validates Hanko session tokens: it takes a token and
// returns the live *Session it names, or a typed error.
//
// Hanko (github.com/teamhanko/hanko) issues an RS256 JWT per session, in the
// "hanko" cookie or as "Authorization: Bearer". Every session is also a row
// in Hanko's database, so a token can verify against the JWKS and still be
// revoked (logout, an admin, the session limit, the idle timeout).
//
// # Modes
//
// ModeHybrid (the default) verifies the token locally against Hanko's JWKS
// (algorithm, kid, signature, exp/nbf/iat with Leeway, aud and iss when
// configured, session_id present) and then confirms the session with Hanko's
// POST /sessions/validate, whose answer is cached for at most
// RevalidateAfter (15 s by default): that is the longest a revoked session
// still gets in. ModeLocal skips the confirmation and is blind to
// revocation. ModeRemote asks Hanko only, after cheap structural checks.
//
// # When Hanko is down
//
// In hybrid mode, Config.Outage decides a token that verifies locally when
// Hanko cannot be asked: OutageDeny (the default) rejects it with
// ErrUnavailable, OutageStale accepts sessions Hanko confirmed within
// OutageGrace (10 min), OutageLocal accepts it as ModeLocal would.
// Validator.Outage reports whether the validator is degraded, and
// Hooks.OutageDecision observes each decision.
//
// # Caching and load on Hanko
//
// Results are cached by the SHA-256 of the token in a bounded cache
// (CacheSize), never past the token's exp, Hanko's idle_expires_at or
// RevalidateAfter. A session Hanko reported revoked stays rejected until its
// exp without asking again. Concurrent validations of one token share one
// verification and one call to Hanko. RevokeSession rejects all cached
// tokens of a session id at once, for revocation pushed from outside (Hanko's
// session.delete.* webhooks). A session's revalidation asks Hanko without
// checking its signature again.
//
// Signature checks, the expensive part of a cache miss, are bounded
// (MaxColdVerifications): a flood of forged or unknown tokens waits for a
// slot and leaves most of the CPU to cached sessions.
//
// # Revocation pushed from outside
//
// RevokeSession (a session id, until its expiry) and RevokeUser (every
// session of a user issued up to a time), or Revoke with a Revocation, make
// the validator reject those sessions at once on every path, cached tokens
// included, in every mode: for Hanko's session.delete.* and user.delete
// webhooks (VerifyWebhook checks their tokens; package webhook receives
// them, package revstream passes them between replicas). Revocations are
// kept until they run out and never dropped: at Config.MaxRevocations
// (about 55 bytes each) a new one is refused with ErrRevocationsFull,
// loudly. A cache hit checks them with two atomic loads.
//
// # Lifecycle
//
// New never waits for Hanko: the JWKS is loaded in the background, and
// retried at least every 2 s until it loads, so readiness follows Hanko's
// return within seconds. Validate needs no wait: a call that comes before
// the first JWKS fetches it (or joins the fetch under way). Ready says
// whether the validator can judge tokens, WaitReady(ctx) waits until it
// can (for readiness probes and start-up); their error names the last
// failure. Close cancels and waits for the calls to Hanko, stops the
// background refresh and closes idle connections: nothing of the
// validator runs after it returns. Nothing is logged unless Config.Logger
// is set, as in every package of this module.
//
// # Errors and the reason table
//
// Every error matches exactly one of ErrNoToken, ErrInvalidToken and
// ErrUnavailable with errors.Is; an invalid token also matches its precise
// reason (ErrExpired, ErrRevoked, ...). ReasonOf gives a short code for
// metrics, logs and clients. Error messages may carry internal detail but
// never the token: log them, and show clients only the reason.
//
// Each Reason is listed once, in one table (Reasons, Reason.Info): its
// Class, the generic message a client sees, its gRPC code, HTTP status
// and WWW-Authenticate challenge. The interceptors, the ext_authz server
// and the metrics all derive their answers from it, so the edges cannot
// disagree. ErrorInfoDomain is the domain of the google.rpc.ErrorInfo that
// carries the reason to gRPC clients. A caller that gives up before the
// check is done gets ReasonCanceled, never ReasonUnavailable: a timeout of
// the caller's is not an outage of Hanko's.
//
// # Extracting tokens
//
// Extractor finds the token in request headers the same way for every
// edge: gRPC metadata, Envoy's CheckRequest and net/http; ExtractSource
// also says where it found it (for an edge that strips it), and
// RemoveCookie removes the session cookie from a Cookie header.
package hankoauth
