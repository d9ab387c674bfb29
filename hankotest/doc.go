// Package hankotest is a fake Hanko v3 backend for tests and local
// development: it mints Hanko-shaped session JWTs and answers Hanko's
// session validation API the way a real Hanko does, as recorded in
// testdata/hanko of this module.
//
// Like go-oidc's oidctest, it is shipped as a package so that users can
// test their own code against it:
//
//	srv := hankotest.NewTB(t) // closed when the test ends
//	m := srv.MustMint(t, hankotest.Session{Email: "alice@example.com", AMR: []string{"pwd"}})
//	// configure the code under test with srv.URL, send it m.Token
//
// [NewServer] is the same without a test (call [Server.Close]), [New] the
// fake without a listener (serve [Hanko.Handler] yourself).
//
// # What it fakes
//
// A [Hanko] holds RSA signing keys (4096 bits by default, like Hanko's;
// [WithKeyBits](2048) where a test wants speed) and a table of sessions.
// Keys are generated once per process and shared by its fakes under
// different kids, so only the first fake of a test binary pays for a key;
// [WithSigningKey] passes a key, [WithFreshKeys] asks for keys of the
// fake's own. [Hanko.Mint] creates a
// session row and signs a token with Hanko's header and claims (sub,
// session_id, aud, iat, exp, and email, username, amr, iss and custom
// claims when set). [Hanko.Revoke] deletes a row, as logout or an admin
// delete do; [Hanko.RotateKey] adds a key, as a Hanko restart with a new
// key does; [Hanko.SetIdleTimeout] sets session.idle_timeout. The clock is
// injectable ([WithClock]).
//
// Validation does what Hanko's does and no more: an RS256 signature by one
// of its keys (named by kid), exp, iat and nbf, and a live session row. It
// does not check aud or iss, and it accepts a token without exp, as Hanko
// does. An invalid, expired, revoked or foreign token gets HTTP 200 with
// {"is_valid":false}.
//
// # Endpoints
//
// These answer with Hanko's status codes, JSON shapes (member order
// included) and headers:
//
//   - GET /.well-known/jwks.json: the public keys, oldest first, with
//     Cache-Control: max-age=600 ([WithJWKSMaxAge]).
//   - POST /sessions/validate with {"session_token": "<jwt>"}: 400 for a
//     missing, empty or mistyped token or malformed JSON, 415 for a
//     non-JSON content type, else 200 with {"is_valid":false} or
//     {"is_valid":true,"claims":{…},"expiration_time":…,"user_id":…} plus
//     idle_expires_at when an idle timeout is set. It refreshes the
//     session's idle timer.
//   - GET /sessions/validate: the token from "Authorization: Bearer"
//     (scheme case-insensitive), then from the session cookie
//     ([WithCookieName]); the first live session wins. It does not
//     refresh the idle timer.
//   - GET /health/alive and GET /health/ready.
//
// Other paths get 404 {"code":404,"message":"Not Found"}, other methods
// 405 {"code":405,"message":"Method Not Allowed"}. Request bodies are
// limited to 64 KiB (413 beyond).
//
// # Not Hanko's API
//
// For tools written in other languages, the fake also serves two
// development endpoints that real Hanko does not have:
//
//   - POST /dev/sessions with an optional JSON body {"user_id", "email",
//     "username", "amr"} mints a session: 200 {"session_token", "user_id",
//     "session_id"}, or 400 for bad JSON or a user_id that is not a UUID.
//   - DELETE /dev/sessions/{session_id} revokes it: 204, or 404 when
//     there is no such session.
//
// Fault injection ([Hanko.Fail]: status, delay, dropped connection) and
// call counters ([Hanko.Calls]) are test aids, not Hanko behaviour either.
// Hanko's flows, user and admin APIs, CORS and webhooks are not faked.
package hankotest
