package interceptor

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hankoauth/hankoauth"
)

// statuses holds the status of every reason that rejects a call, built
// once from hankoauth's reason table; a *status.Status is immutable, so
// they are shared.
var statuses = func() map[hankoauth.Reason]*status.Status {
	m := make(map[hankoauth.Reason]*status.Status)
	for _, r := range hankoauth.Reasons() {
		switch r.Info().Class {
		case hankoauth.ClassOK, hankoauth.ClassCanceled:
			continue
		}
		m[r] = newStatus(r)
	}
	return m
}()

// newStatus builds the status of reason r: its code and fixed message
// from hankoauth's reason table, and an ErrorInfo detail.
func newStatus(r hankoauth.Reason) *status.Status {
	ri := r.Info()
	st, err := status.New(ri.Code, ri.Message).WithDetails(&errdetails.ErrorInfo{Domain: hankoauth.ErrorInfoDomain, Reason: string(r)})
	if err != nil { // cannot happen: ErrorInfo always marshals
		return status.New(ri.Code, ri.Message)
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
//	ErrForbidden (Requirement.Check)       PermissionDenied  "permission denied"                       PERMISSION_DENIED
//	the caller's context.Canceled          Canceled          "context canceled"                        none
//	the caller's context.DeadlineExceeded  DeadlineExceeded  "context deadline exceeded"               none
//	ErrUnavailable, anything else          Unavailable       "authentication temporarily unavailable"  HANKO_UNAVAILABLE
//
// The code and message of every reason come from hankoauth's reason table
// (hankoauth.Reason.Info). A cancellation counts as the caller's when err
// has the reason REQUEST_CANCELED: the context error itself, or what
// Validate returns when its context ends; a timeout of a call to Hanko
// stays Unavailable. Edges that hold the caller's context should check
// ctx.Err() first, as the interceptors do.
//
// The message is fixed per code and reason and never contains the token
// or err's text; log err instead. Statuses are immutable and may be shared
// between calls.
func StatusFromError(err error) *status.Status {
	if err == nil {
		return status.New(codes.OK, "")
	}
	r := hankoauth.ReasonOf(err)
	switch r.Info().Class {
	case hankoauth.ClassCanceled:
		if errors.Is(err, context.DeadlineExceeded) {
			return deadlineStatus
		}
		return canceledStatus
	case hankoauth.ClassOK:
		r = hankoauth.ReasonTokenMalformed // an error is never OK
	}
	if st, ok := statuses[r]; ok {
		return st
	}
	return newStatus(r)
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
