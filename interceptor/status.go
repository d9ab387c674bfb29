package interceptor

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hankoauth/hankoauth"
)

// ErrorInfoDomain is the domain of the google.rpc.ErrorInfo detail that
// every rejection carries; its reason is a hankoauth.Reason.
const ErrorInfoDomain = "hanko"

// statuses holds the status of every known reason, built once; a
// *status.Status is immutable, so they are shared.
var statuses = func() map[hankoauth.Reason]*status.Status {
	m := make(map[hankoauth.Reason]*status.Status)
	for _, r := range []hankoauth.Reason{
		hankoauth.ReasonTokenMissing, hankoauth.ReasonTokenAmbiguous, hankoauth.ReasonTokenMalformed,
		hankoauth.ReasonSignature, hankoauth.ReasonUnknownKey, hankoauth.ReasonExpired,
		hankoauth.ReasonNotYetValid, hankoauth.ReasonAudience, hankoauth.ReasonIssuer,
		hankoauth.ReasonNotSessionToken, hankoauth.ReasonRevoked, hankoauth.ReasonMismatch,
		hankoauth.ReasonRejected,
	} {
		m[r] = newStatus(codes.Unauthenticated, r)
	}
	m[hankoauth.ReasonForbidden] = newStatus(codes.PermissionDenied, hankoauth.ReasonForbidden)
	m[hankoauth.ReasonUnavailable] = newStatus(codes.Unavailable, hankoauth.ReasonUnavailable)
	return m
}()

// newStatus builds the status for code and reason: a fixed message and an
// ErrorInfo detail.
func newStatus(c codes.Code, r hankoauth.Reason) *status.Status {
	msg := r.Message()
	st, err := status.New(c, msg).WithDetails(&errdetails.ErrorInfo{Domain: ErrorInfoDomain, Reason: string(r)})
	if err != nil { // cannot happen: ErrorInfo always marshals
		return status.New(c, msg)
	}
	return st
}

// StatusFromError maps an error of hankoauth's Validate, Extractor.Extract
// or a hankoauth.Requirement to the gRPC status a client should see. It is
// the one place where this package (and the other gRPC edges of
// hankoauth) turn errors into statuses:
//
//	error                                  code              message                                   ErrorInfo reason
//	nil                                    OK                ""                                        none
//	ErrNoToken                             Unauthenticated   "missing session token"                   TOKEN_MISSING
//	ErrExpired                             Unauthenticated   "session expired"                         SESSION_EXPIRED
//	any other ErrInvalidToken              Unauthenticated   "invalid session"                         its reason (SESSION_REVOKED, TOKEN_AMBIGUOUS, ...)
//	ErrForbidden (or a Requirement error)  PermissionDenied  "permission denied"                       PERMISSION_DENIED
//	the caller's context.Canceled          Canceled          "context canceled"                        none
//	the caller's context.DeadlineExceeded  DeadlineExceeded  "context deadline exceeded"               none
//	ErrUnavailable, anything else          Unavailable       "authentication temporarily unavailable"  HANKO_UNAVAILABLE
//
// A cancellation counts as the caller's when err is the context error
// itself, or an ErrUnavailable whose direct cause it is (what Validate
// returns when its context ends); a timeout of a call to Hanko stays
// Unavailable. Edges that hold the caller's context should check
// ctx.Err() first, as the interceptors do.
//
// The message is fixed per code and reason and never contains the token
// or err's text; log err instead. Statuses are immutable and may be shared
// between calls.
func StatusFromError(err error) *status.Status {
	if err == nil {
		return status.New(codes.OK, "")
	}
	var r hankoauth.Reason
	switch {
	case errors.Is(err, hankoauth.ErrForbidden):
		r = hankoauth.ReasonForbidden
	case errors.Is(err, hankoauth.ErrNoToken), errors.Is(err, hankoauth.ErrInvalidToken):
		r = hankoauth.ReasonOf(err)
		if r == hankoauth.ReasonUnavailable || r == hankoauth.ReasonOK {
			r = hankoauth.ReasonTokenMalformed // an invalid token is never "unavailable"
		}
	default:
		if c, ok := callerGaveUp(err); ok {
			return contextStatus(c)
		}
		r = hankoauth.ReasonUnavailable
	}
	if st, ok := statuses[r]; ok {
		return st
	}
	// A reason added to hankoauth after this package was written.
	return newStatus(codes.Unauthenticated, r)
}

// callerGaveUp reports whether err means that the caller's own context
// ended, and which way. Validate says so with ReasonCanceled; a timed-out
// call to Hanko stays Unavailable.
func callerGaveUp(err error) (codes.Code, bool) {
	switch {
	case hankoauth.ReasonOf(err) == hankoauth.ReasonCanceled, !errors.Is(err, hankoauth.ErrUnavailable):
		if errors.Is(err, context.DeadlineExceeded) {
			return codes.DeadlineExceeded, true
		}
		if errors.Is(err, context.Canceled) {
			return codes.Canceled, true
		}
	}
	return 0, false
}

func contextCode(err error) codes.Code {
	if err == context.DeadlineExceeded {
		return codes.DeadlineExceeded
	}
	return codes.Canceled
}

var (
	canceledStatus = status.New(codes.Canceled, context.Canceled.Error())
	deadlineStatus = status.New(codes.DeadlineExceeded, context.DeadlineExceeded.Error())
)

func contextStatus(c codes.Code) *status.Status {
	if c == codes.DeadlineExceeded {
		return deadlineStatus
	}
	return canceledStatus
}
