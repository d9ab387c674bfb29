package hankoauth

import (
	"context"
	"errors"
	"net/http"

	"google.golang.org/grpc/codes"
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
	// ReasonForbidden: a live session did not meet a Requirement. It is
	// not an error of Validate; the edges give it for any error a
	// Requirement returns.
	ReasonForbidden Reason = "PERMISSION_DENIED"
	// ReasonNoHTTPAttributes: an Envoy CheckRequest that describes no HTTP
	// request, such as one from Envoy's network (TCP) ext_authz filter.
	ReasonNoHTTPAttributes Reason = "HTTP_ATTRIBUTES_MISSING"
)

// ErrorInfoDomain is the domain of the google.rpc.ErrorInfo detail that
// every gRPC rejection carries (from the interceptors, and in the
// grpc-status-details-bin header of an ext_authz denial); its reason is a
// Reason.
const ErrorInfoDomain = "hanko"

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
//
// An error that matches ErrForbidden (what a Requirement returns) gives
// ReasonForbidden, and a bare context.Canceled or
// context.DeadlineExceeded gives ReasonCanceled.
func ReasonOf(err error) Reason {
	if err == nil {
		return ReasonOK
	}
	if errors.Is(err, ErrForbidden) {
		return ReasonForbidden
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
	case errors.Is(err, ErrUnavailable):
		return ReasonUnavailable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ReasonCanceled
	}
	return ReasonUnavailable
}

// Class groups the reasons by what a client should do about them.
type Class int

// The classes.
const (
	// ClassOK: the request may go on (ReasonOK).
	ClassOK Class = iota
	// ClassNoToken: the request carried no token; the client should log in.
	ClassNoToken
	// ClassInvalid: a token was presented and is not a live session; the
	// client should log in again.
	ClassInvalid
	// ClassForbidden: a live session that does not meet a Requirement.
	ClassForbidden
	// ClassUnavailable: the token could not be checked; retry later.
	ClassUnavailable
	// ClassCanceled: the caller gave up before the check was done.
	ClassCanceled
	// ClassBadRequest: the request cannot be judged at all (an ext_authz
	// CheckRequest without HTTP attributes).
	ClassBadRequest
)

func (c Class) String() string {
	switch c {
	case ClassOK:
		return "ok"
	case ClassNoToken:
		return "no_token"
	case ClassInvalid:
		return "invalid_token"
	case ClassForbidden:
		return "forbidden"
	case ClassUnavailable:
		return "unavailable"
	case ClassCanceled:
		return "canceled"
	case ClassBadRequest:
		return "bad_request"
	}
	return "unknown"
}

// Result is the Decision.Result of the class: "allow" for ClassOK,
// "error" for ClassUnavailable (the check could not be made), "canceled"
// for ClassCanceled, "deny" for the others.
func (c Class) Result() string {
	switch c {
	case ClassOK:
		return ResultAllow
	case ClassUnavailable:
		return ResultError
	case ClassCanceled:
		return ResultCanceled
	}
	return ResultDeny
}

// ReasonInfo is everything an edge needs to answer for a reason: the one
// table every edge and the metrics derive from.
type ReasonInfo struct {
	Reason Reason
	Class  Class
	// Message is the fixed, generic text a client may be shown, the same
	// at every edge. It never says more than the reason does: the detail
	// of a failure belongs in the log.
	Message string
	// Code is the gRPC status code (interceptors, ext_authz Check status).
	// For ReasonCanceled it is Canceled; an edge that knows the caller's
	// deadline passed answers DeadlineExceeded.
	Code codes.Code
	// HTTPStatus is the HTTP status of a denial (ext_authz). 499, for
	// ReasonCanceled, is the status proxies log for a client that went
	// away; nobody reads that answer.
	HTTPStatus int
	// Challenge is the WWW-Authenticate value of an HTTP denial
	// (RFC 6750), empty when none is sent.
	Challenge string
}

// The WWW-Authenticate challenges of RFC 6750.
const (
	challengeLogin     = `Bearer realm="hanko"`
	challengeInvalid   = `Bearer realm="hanko", error="invalid_token"`
	challengeForbidden = `Bearer realm="hanko", error="insufficient_scope"`
)

// reasonTable lists every reason once.
var reasonTable = []ReasonInfo{
	{ReasonOK, ClassOK, "", codes.OK, http.StatusOK, ""},
	{ReasonTokenMissing, ClassNoToken, "missing session token", codes.Unauthenticated, http.StatusUnauthorized, challengeLogin},
	{ReasonTokenAmbiguous, ClassInvalid, msgInvalid, codes.Unauthenticated, http.StatusUnauthorized, challengeInvalid},
	{ReasonTokenMalformed, ClassInvalid, msgInvalid, codes.Unauthenticated, http.StatusUnauthorized, challengeInvalid},
	{ReasonSignature, ClassInvalid, msgInvalid, codes.Unauthenticated, http.StatusUnauthorized, challengeInvalid},
	{ReasonUnknownKey, ClassInvalid, msgInvalid, codes.Unauthenticated, http.StatusUnauthorized, challengeInvalid},
	{ReasonExpired, ClassInvalid, "session expired", codes.Unauthenticated, http.StatusUnauthorized, challengeInvalid},
	{ReasonNotYetValid, ClassInvalid, msgInvalid, codes.Unauthenticated, http.StatusUnauthorized, challengeInvalid},
	{ReasonAudience, ClassInvalid, msgInvalid, codes.Unauthenticated, http.StatusUnauthorized, challengeInvalid},
	{ReasonIssuer, ClassInvalid, msgInvalid, codes.Unauthenticated, http.StatusUnauthorized, challengeInvalid},
	{ReasonNotSessionToken, ClassInvalid, msgInvalid, codes.Unauthenticated, http.StatusUnauthorized, challengeInvalid},
	{ReasonRevoked, ClassInvalid, msgInvalid, codes.Unauthenticated, http.StatusUnauthorized, challengeInvalid},
	{ReasonMismatch, ClassInvalid, msgInvalid, codes.Unauthenticated, http.StatusUnauthorized, challengeInvalid},
	{ReasonRejected, ClassInvalid, msgInvalid, codes.Unauthenticated, http.StatusUnauthorized, challengeInvalid},
	{ReasonForbidden, ClassForbidden, "permission denied", codes.PermissionDenied, http.StatusForbidden, challengeForbidden},
	{ReasonUnavailable, ClassUnavailable, "authentication temporarily unavailable", codes.Unavailable, http.StatusServiceUnavailable, ""},
	{ReasonCanceled, ClassCanceled, "request canceled", codes.Canceled, 499, ""},
	{ReasonNoHTTPAttributes, ClassBadRequest, "check request has no HTTP attributes", codes.InvalidArgument, http.StatusBadRequest, ""},
}

const msgInvalid = "invalid session"

var reasonIndex = func() map[Reason]*ReasonInfo {
	m := make(map[Reason]*ReasonInfo, len(reasonTable))
	for i := range reasonTable {
		m[reasonTable[i].Reason] = &reasonTable[i]
	}
	return m
}()

// Reasons returns every reason, in a fixed order: ReasonOK first, then
// the denials, then ReasonUnavailable, ReasonCanceled and
// ReasonNoHTTPAttributes.
func Reasons() []Reason {
	out := make([]Reason, len(reasonTable))
	for i, ri := range reasonTable {
		out[i] = ri.Reason
	}
	return out
}

// Known reports whether r is one of Reasons.
func (r Reason) Known() bool {
	_, ok := reasonIndex[r]
	return ok
}

// Info returns the table row of r. A reason that is not Known (a caller's
// mistake) is described as an invalid token: denied, never "retry".
func (r Reason) Info() ReasonInfo {
	if ri, ok := reasonIndex[r]; ok {
		return *ri
	}
	ri := *reasonIndex[ReasonTokenMalformed]
	ri.Reason = r
	return ri
}

// Message returns the fixed, generic text a client may be shown for the
// reason (Info().Message).
func (r Reason) Message() string { return r.Info().Message }
