package hankoauth

import (
	"errors"
)

// Reason is a short, stable, upper-case code that says why a token was
// rejected or could not be checked. It is safe to use as a metrics label or
// a log field: the set is small and fixed, and a reason never carries a token
// or a user's data. The edges send it to clients as the reason of a
// google.rpc.ErrorInfo detail or in a JSON body.
type Reason string

// The reasons. ReasonOK is the reason of an accepted token.
const (
	ReasonOK              Reason = "OK"
	ReasonTokenMissing    Reason = "TOKEN_MISSING"
	ReasonTokenAmbiguous  Reason = "TOKEN_AMBIGUOUS"
	ReasonTokenMalformed  Reason = "TOKEN_MALFORMED"
	ReasonSignature       Reason = "SIGNATURE_INVALID"
	ReasonUnknownKey      Reason = "KEY_UNKNOWN"
	ReasonExpired         Reason = "SESSION_EXPIRED"
	ReasonNotYetValid     Reason = "TOKEN_NOT_YET_VALID"
	ReasonAudience        Reason = "AUDIENCE_MISMATCH"
	ReasonIssuer          Reason = "ISSUER_MISMATCH"
	ReasonNotSessionToken Reason = "NOT_A_SESSION_TOKEN"
	ReasonRevoked         Reason = "SESSION_REVOKED"
	ReasonMismatch        Reason = "SESSION_MISMATCH"
	ReasonRejected        Reason = "SESSION_REJECTED"
	ReasonUnavailable     Reason = "HANKO_UNAVAILABLE"
	// ReasonCanceled: the caller's context ended before the check was
	// done. The error matches ErrUnavailable and the context's error.
	ReasonCanceled Reason = "REQUEST_CANCELED"
)

// The three classes of failure. Every error that Validate returns matches
// exactly one of them with errors.Is; the edges map these (and nothing else)
// to gRPC codes and HTTP statuses.
var (
	// ErrNoToken: the request carried no session token at all.
	ErrNoToken = errors.New("hankoauth: no session token")
	// ErrInvalidToken: a token was presented and is not a live Hanko session.
	// The precise reason is wrapped (ErrExpired, ErrRevoked, ...).
	ErrInvalidToken = errors.New("hankoauth: invalid session token")
	// ErrUnavailable: the token could not be checked because Hanko or its
	// JWKS could not be reached, timed out, or answered with a server error.
	// The request should be retried later; it says nothing about the token.
	ErrUnavailable = errors.New("hankoauth: hanko unavailable")
)

// The precise reasons an ErrInvalidToken carries. Each one matches
// ErrInvalidToken too: errors.Is(ErrExpired, ErrInvalidToken) is true.
var (
	ErrAmbiguousToken  = &reasonError{ReasonTokenAmbiguous, "token is ambiguous: the request carries different tokens"}
	ErrMalformed       = &reasonError{ReasonTokenMalformed, "token is malformed"}
	ErrBadSignature    = &reasonError{ReasonSignature, "token signature is invalid"}
	ErrUnknownKey      = &reasonError{ReasonUnknownKey, "token is signed with an unknown key"}
	ErrExpired         = &reasonError{ReasonExpired, "session has expired"}
	ErrNotYetValid     = &reasonError{ReasonNotYetValid, "token is not valid yet"}
	ErrWrongAudience   = &reasonError{ReasonAudience, "token audience is not accepted"}
	ErrWrongIssuer     = &reasonError{ReasonIssuer, "token issuer is not accepted"}
	ErrNotSessionToken = &reasonError{ReasonNotSessionToken, "token is not a Hanko session token"}
	ErrRevoked         = &reasonError{ReasonRevoked, "session has been revoked"}
	ErrSessionMismatch = &reasonError{ReasonMismatch, "hanko reported a different session than the token names"}
	// ErrRejected: in remote mode, Hanko answered is_valid false. Without
	// local verification the validator cannot tell a forged token from a
	// revoked session, so it does not claim either.
	ErrRejected = &reasonError{ReasonRejected, "hanko rejected the session"}
)

// reasonError is one precise reason for an invalid token.
type reasonError struct {
	reason Reason
	msg    string
}

func (e *reasonError) Error() string { return "hankoauth: " + e.msg }
func (e *reasonError) Unwrap() error { return ErrInvalidToken }

// Error is the error type that Validate returns. Reason is the short code;
// the error matches its class (ErrNoToken, ErrInvalidToken or
// ErrUnavailable) and its precise sentinel (ErrExpired, ...) with errors.Is.
// Its message may name internal details (a URL, a status code, a library's
// error) but never the token: log it, and send clients only Reason.
type Error struct {
	Reason Reason
	kind   error // a sentinel: ErrNoToken, ErrUnavailable or a *reasonError
	cause  error // detail, may be nil
}

func (e *Error) Error() string {
	if e.cause == nil {
		return e.kind.Error()
	}
	return e.kind.Error() + ": " + e.cause.Error()
}

// Unwrap returns the sentinel and the cause, so that errors.Is sees both.
func (e *Error) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// newError builds an *Error for the sentinel kind with an optional cause.
func newError(kind error, cause error) *Error {
	r := ReasonUnavailable
	switch k := kind.(type) {
	case *reasonError:
		r = k.reason
	default:
		if kind == ErrNoToken {
			r = ReasonTokenMissing
		}
	}
	return &Error{Reason: r, kind: kind, cause: cause}
}

// ReasonOf returns the reason code of err: ReasonOK for nil, the Reason of
// an *Error or a precise sentinel, ReasonTokenMissing for ErrNoToken,
// ReasonTokenMalformed for any other ErrInvalidToken, and
// ReasonUnavailable for everything else (an unknown failure is treated as
// one that may pass on retry, never as a rejection of the user).
func ReasonOf(err error) Reason {
	if err == nil {
		return ReasonOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	var r *reasonError
	if errors.As(err, &r) {
		return r.reason
	}
	switch {
	case errors.Is(err, ErrNoToken):
		return ReasonTokenMissing
	case errors.Is(err, ErrInvalidToken):
		return ReasonTokenMalformed
	}
	return ReasonUnavailable
}

// Message returns the fixed, generic text a client may be shown for the
// reason, the same at every edge. It never says more than the reason does:
// the detail of a failure belongs in the log.
func (r Reason) Message() string {
	switch r {
	case ReasonOK:
		return ""
	case ReasonTokenMissing:
		return "missing session token"
	case ReasonExpired:
		return "session expired"
	case ReasonForbidden:
		return "permission denied"
	case ReasonUnavailable:
		return "authentication temporarily unavailable"
	case ReasonCanceled:
		return "request canceled"
	}
	return "invalid session"
}
