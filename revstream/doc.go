// Package revstream passes revocations between replicas of hanko-authz
// through a Redis Stream, so that a webhook that reached one replica
// revokes the session on every replica within milliseconds.
//
// A Stream is a webhook.Revoker: Revoke applies a revocation to the local
// validator at once, then appends it to the stream (XADD, trimming with
// MINID what is older than the retention, the longest session lifetime:
// nothing older can still be in force). Every replica reads the stream
// (XREAD BLOCK) and applies what it reads with source "stream". A replica
// that starts, or reconnects after Redis was unreachable, first reads
// every entry still kept (so it misses nothing, however long it was cut
// off), then follows the stream. If the stream was reset meanwhile (a
// Redis restart without persistence), it reads it again from the start.
//
// While Redis is unreachable the replica keeps serving: it logs the
// outage once, reports it through Status (metrics, /readyz's body),
// keeps the revocations it received to append them when Redis returns,
// and relies on the validator's RevalidateAfter as the backstop.
//
// Only revocations travel through Redis: whatever is read from it can
// only reject sessions, never admit a request. Whoever can write to the
// stream can revoke sessions: protect Redis like the rest of the
// deployment (a password, TLS, a network policy).
package revstream
