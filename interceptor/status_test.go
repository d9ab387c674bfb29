package interceptor

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/hankoauth/hankoauth"
)

func TestStatusFromError(t *testing.T) {
	// What Validate returns when its caller's context ends, and when a
	// call to Hanko times out.
	x := hankoauth.Extractor{}
	_, noToken := x.Extract(func(string) []string { return nil })
	_, ambiguous := x.Extract(func(h string) []string {
		if h == "authorization" {
			return []string{"Bearer a", "Bearer b"}
		}
		return nil
	})
	httpTimeout := &url.Error{Op: "Post", URL: "http://hanko/sessions/validate", Err: context.DeadlineExceeded}

	tests := []struct {
		name   string
		err    error
		code   codes.Code
		msg    string
		reason hankoauth.Reason
	}{
		{"nil", nil, codes.OK, "", ""},
		{"no token", noToken, codes.Unauthenticated, "missing session token", hankoauth.ReasonTokenMissing},
		{"ErrNoToken", hankoauth.ErrNoToken, codes.Unauthenticated, "missing session token", hankoauth.ReasonTokenMissing},
		{"ambiguous", ambiguous, codes.Unauthenticated, "invalid session", hankoauth.ReasonTokenAmbiguous},
		{"expired", hankoauth.ErrExpired, codes.Unauthenticated, "session expired", hankoauth.ReasonExpired},
		{"wrapped expired", fmt.Errorf("x: %w", hankoauth.ErrExpired), codes.Unauthenticated, "session expired", hankoauth.ReasonExpired},
		{"revoked", hankoauth.ErrRevoked, codes.Unauthenticated, "invalid session", hankoauth.ReasonRevoked},
		{"rejected", hankoauth.ErrRejected, codes.Unauthenticated, "invalid session", hankoauth.ReasonRejected},
		{"bad signature", hankoauth.ErrBadSignature, codes.Unauthenticated, "invalid session", hankoauth.ReasonSignature},
		{"bare ErrInvalidToken", hankoauth.ErrInvalidToken, codes.Unauthenticated, "invalid session", hankoauth.ReasonTokenMalformed},
		{"forbidden", hankoauth.ErrForbidden, codes.PermissionDenied, "permission denied", hankoauth.ReasonForbidden},
		{"requirement error", hankoauth.Requirement(func(context.Context, *hankoauth.Session) error { return errors.New("no") }).Check(context.Background(), nil), codes.PermissionDenied, "permission denied", hankoauth.ReasonForbidden},
		{"unavailable", hankoauth.ErrUnavailable, codes.Unavailable, "authentication temporarily unavailable", hankoauth.ReasonUnavailable},
		{"hanko timeout", fmt.Errorf("%w: %w", hankoauth.ErrUnavailable, httpTimeout), codes.Unavailable, "authentication temporarily unavailable", hankoauth.ReasonUnavailable},
		{"unknown error", errors.New("boom"), codes.Unavailable, "authentication temporarily unavailable", hankoauth.ReasonUnavailable},
		{"canceled", context.Canceled, codes.Canceled, "context canceled", ""},
		{"wrapped deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), codes.DeadlineExceeded, "context deadline exceeded", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := StatusFromError(tt.err)
			if tt.code == codes.OK {
				if st.Code() != codes.OK {
					t.Fatalf("StatusFromError(nil) = %v", st)
				}
				return
			}
			checkStatus(t, st.Err(), tt.code, tt.msg, tt.reason)
		})
	}
}

// TestStatusFromValidateCancel checks the mapping of the error Validate
// gives a caller whose context ended: Canceled, not Unavailable.
func TestStatusFromValidateCancel(t *testing.T) {
	v, err := hankoauth.New(hankoauth.Config{APIURL: "http://127.0.0.1:1", CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A structurally valid JWT, so that Validate waits for the JWKS.
	_, err = v.Validate(ctx, "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJ4In0.c2ln")
	if !errors.Is(err, hankoauth.ErrUnavailable) {
		t.Skipf("Validate with a cancelled context = %v; not an ErrUnavailable", err)
	}
	if got := StatusFromError(err).Code(); got != codes.Canceled {
		t.Errorf("StatusFromError(%v) = %v, want Canceled", err, got)
	}
}
