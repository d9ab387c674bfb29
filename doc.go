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
// # Errors
//
// Every error matches exactly one of ErrNoToken, ErrInvalidToken and
// ErrUnavailable with errors.Is; an invalid token also matches its precise
// reason (ErrExpired, ErrRevoked, ...). ReasonOf gives a short code for
// metrics, logs and clients. Error messages may carry internal detail but
// never the token: log them, and show clients only the reason.
//
// # Extracting tokens
//
// Extractor finds the token in request headers the same way for every
// edge: gRPC metadata, Envoy's CheckRequest and net/http.
package hankoauth
