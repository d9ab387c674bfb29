// Package webhook receives Hanko's webhooks and turns the ones that end
// sessions into revocations, so that a logout or an admin revocation is
// rejected at once instead of after the validator's RevalidateAfter.
//
// Hanko POSTs each event to one callback URL as {"token": "<JWT>",
// "event": "<name>"}. The JWT is the only proof: it is signed with the
// same key as session tokens, with "sub" "hanko webhooks", "evt" the
// event name, "exp" = "iat" + 300 s and "data" the session row (session
// events) or the user (user events). The Handler trusts a delivery only
// when hankoauth.Validator.VerifyWebhook accepts its token and "evt"
// equals the body's event, and then:
//
//   - session.delete.* (logout, a user's or an admin's revocation, the
//     session limit, the idle timeout): revokes data.id until
//     data.expires_at;
//   - user.delete: revokes every session of data.id issued up to the
//     token's "iat" (Hanko deletes the sessions by cascade and sends no
//     session event);
//   - anything else: ignored.
//
// It answers 204 for applied and ignored deliveries, 400 for a malformed
// body or data, 401 for a token it does not trust, 405/413/415 for the
// wrong method, size or content type, and 503 when it cannot decide now
// (no JWKS loaded yet, revocation store full). Each answer is logged
// (never the token) and reported to the observer (WithObserver), whose
// results are applied, ignored and rejected.
//
// Deliveries may repeat and arrive in any order: revocations are
// idempotent and order-independent. Hanko waits 10 s for an answer and
// never retries, so the Handler does no network work but what verifying
// a token with a new key needs (a rate-limited JWKS fetch); a Revoker
// that passes revocations on to other replicas (WithRevoker) must not
// block either. Hanko also never sends some endings (a session reaching
// its expiry needs none; a delivery that failed is lost), so the
// validator's RevalidateAfter stays the backstop.
package webhook
