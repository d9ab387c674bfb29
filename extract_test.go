package hankoauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
)

func lookupOf(kv ...string) HeaderLookup {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return HTTPHeaderLookup(h)
}

func TestExtract(t *testing.T) {
	long := strings.Repeat("a", MaxTokenLength+1)
	tests := []struct {
		name    string
		x       Extractor
		headers []string
		want    string
		wantErr error
	}{
		{name: "bearer", headers: []string{"Authorization", "Bearer abc"}, want: "abc"},
		{name: "bearer lower-case scheme", headers: []string{"Authorization", "bearer abc"}, want: "abc"},
		{name: "bearer upper-case scheme", headers: []string{"Authorization", "BEARER abc"}, want: "abc"},
		{name: "bearer with spaces around", headers: []string{"Authorization", "  Bearer   abc  "}, want: "abc"},
		{name: "no scheme is not a token", headers: []string{"Authorization", "abc"}, wantErr: ErrMalformed},
		{name: "basic is not a token", headers: []string{"Authorization", "Basic dXNlcjpwdw=="}, wantErr: ErrMalformed},
		{name: "bearer without token", headers: []string{"Authorization", "Bearer "}, wantErr: ErrMalformed},
		{name: "bearer with two words", headers: []string{"Authorization", "Bearer a b"}, wantErr: ErrMalformed},
		{name: "basic plus cookie uses the cookie", headers: []string{"Authorization", "Basic x", "Cookie", "hanko=abc"}, want: "abc"},
		{name: "cookie", headers: []string{"Cookie", "hanko=abc"}, want: "abc"},
		{name: "cookie among others", headers: []string{"Cookie", "a=1; hanko=abc; b=2"}, want: "abc"},
		{name: "quoted cookie", headers: []string{"Cookie", `hanko="abc"`}, want: "abc"},
		{name: "cookie name is exact", headers: []string{"Cookie", "Hanko=abc; hankox=def"}, wantErr: ErrNoToken},
		{name: "several cookie headers", headers: []string{"Cookie", "a=1", "Cookie", "hanko=abc"}, want: "abc"},
		{name: "same cookie twice", headers: []string{"Cookie", "hanko=abc; hanko=abc"}, want: "abc"},
		{name: "two different cookies", headers: []string{"Cookie", "hanko=abc", "Cookie", "hanko=def"}, wantErr: ErrAmbiguousToken},
		{name: "empty cookie value", headers: []string{"Cookie", "hanko="}, wantErr: ErrNoToken},
		{name: "custom cookie name", x: Extractor{CookieName: "sess"}, headers: []string{"Cookie", "hanko=x; sess=abc"}, want: "abc"},
		{name: "bearer and cookie agree", headers: []string{"Authorization", "Bearer abc", "Cookie", "hanko=abc"}, want: "abc"},
		{name: "bearer and cookie disagree", headers: []string{"Authorization", "Bearer abc", "Cookie", "hanko=def"}, wantErr: ErrAmbiguousToken},
		{name: "two authorization values", headers: []string{"Authorization", "Bearer abc", "Authorization", "Bearer def"}, wantErr: ErrAmbiguousToken},
		{name: "two equal authorization values", headers: []string{"Authorization", "Bearer abc", "Authorization", "Bearer abc"}, want: "abc"},
		{name: "extra token header", x: Extractor{TokenHeaders: []string{"x-session-token"}}, headers: []string{"X-Session-Token", "abc"}, want: "abc"},
		{name: "extra header disagrees", x: Extractor{TokenHeaders: []string{"x-session-token"}}, headers: []string{"X-Session-Token", "abc", "Authorization", "Bearer def"}, wantErr: ErrAmbiguousToken},
		{name: "x-auth-token is ignored by default", headers: []string{"X-Auth-Token", "abc"}, wantErr: ErrNoToken},
		{name: "gateway cookie header", x: Extractor{CookieHeaders: []string{"cookie", "grpcgateway-cookie"}}, headers: []string{"Grpcgateway-Cookie", "hanko=abc"}, want: "abc"},
		{name: "nothing", wantErr: ErrNoToken},
		{name: "too long", headers: []string{"Authorization", "Bearer " + long}, wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.x.Extract(lookupOf(tt.headers...))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || got != "" {
					t.Fatalf("Extract = %q, %v; want error %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Extract = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestErrorsMatchOneClass(t *testing.T) {
	sentinels := []error{ErrAmbiguousToken, ErrMalformed, ErrBadSignature, ErrUnknownKey, ErrExpired, ErrNotYetValid,
		ErrWrongAudience, ErrWrongIssuer, ErrNotSessionToken, ErrRevoked, ErrSessionMismatch, ErrRejected}
	seen := map[Reason]bool{}
	for _, s := range sentinels {
		err := newError(s, errors.New("detail"))
		if !errors.Is(err, s) || !errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNoToken) {
			t.Errorf("%v: wrong class", s)
		}
		r := ReasonOf(err)
		if r == ReasonOf(s) && !seen[r] {
			seen[r] = true
		} else {
			t.Errorf("%v: reason %s not unique or not stable", s, r)
		}
	}
	if r := ReasonOf(newError(ErrUnavailable, nil)); r != ReasonUnavailable {
		t.Errorf("unavailable reason %s", r)
	}
	if r := ReasonOf(errors.New("other")); r != ReasonUnavailable {
		t.Errorf("unknown error reason %s", r)
	}
	if ReasonOf(nil) != ReasonOK || ReasonOf(ErrNoToken) != ReasonTokenMissing {
		t.Error("ReasonOf nil / ErrNoToken")
	}
	for err, want := range map[error]string{nil: "allow", ErrExpired: "deny", ErrNoToken: "deny", ErrForbidden: "deny", ErrUnavailable: "error"} {
		if got := DecisionResult(err); got != want {
			t.Errorf("DecisionResult(%v) = %s, want %s", err, got, want)
		}
	}
}

func FuzzExtract(f *testing.F) {
	f.Add("Bearer abc", "hanko=abc; a=b")
	f.Add("bearer  x", `hanko="q"; hanko=r`)
	f.Add("", "hanko=")
	f.Fuzz(func(t *testing.T, auth, cookie string) {
		tok, err := Extractor{}.Extract(lookupOf("Authorization", auth, "Cookie", cookie))
		if err == nil && (tok == "" || len(tok) > MaxTokenLength) {
			t.Fatalf("Extract returned %q without error", tok)
		}
		if err != nil && tok != "" {
			t.Fatal("token returned with an error")
		}
		if err != nil && !errors.Is(err, ErrNoToken) && !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}

// TestReasonTable checks the one reason table: every reason once, each
// with a class that agrees with the sentinels, and a code, status and
// challenge that agree with its class.
func TestReasonTable(t *testing.T) {
	seen := map[Reason]bool{}
	for _, r := range Reasons() {
		if seen[r] {
			t.Errorf("reason %s listed twice", r)
		}
		seen[r] = true
		ri := r.Info()
		if ri.Reason != r || !r.Known() {
			t.Errorf("%s: Info().Reason = %s, Known = %v", r, ri.Reason, r.Known())
		}
		if r != ReasonOK && ri.Message == "" {
			t.Errorf("%s: no client message", r)
		}
		want := map[Class]struct {
			code      codes.Code
			status    int
			challenge bool
		}{
			ClassOK:          {codes.OK, http.StatusOK, false},
			ClassNoToken:     {codes.Unauthenticated, http.StatusUnauthorized, true},
			ClassInvalid:     {codes.Unauthenticated, http.StatusUnauthorized, true},
			ClassForbidden:   {codes.PermissionDenied, http.StatusForbidden, true},
			ClassUnavailable: {codes.Unavailable, http.StatusServiceUnavailable, false},
			ClassCanceled:    {codes.Canceled, 499, false},
			ClassBadRequest:  {codes.InvalidArgument, http.StatusBadRequest, false},
		}[ri.Class]
		if ri.Code != want.code || ri.HTTPStatus != want.status || (ri.Challenge != "") != want.challenge {
			t.Errorf("%s (class %s): code %v, status %d, challenge %q; want %v, %d, challenge %v",
				r, ri.Class, ri.Code, ri.HTTPStatus, ri.Challenge, want.code, want.status, want.challenge)
		}
	}
	// The sentinels' reasons are in the table, with the class of their
	// sentinel.
	for err, class := range map[error]Class{
		ErrNoToken: ClassNoToken, ErrAmbiguousToken: ClassInvalid, ErrMalformed: ClassInvalid,
		ErrBadSignature: ClassInvalid, ErrUnknownKey: ClassInvalid, ErrExpired: ClassInvalid,
		ErrNotYetValid: ClassInvalid, ErrWrongAudience: ClassInvalid, ErrWrongIssuer: ClassInvalid,
		ErrNotSessionToken: ClassInvalid, ErrRevoked: ClassInvalid, ErrSessionMismatch: ClassInvalid,
		ErrRejected: ClassInvalid, ErrForbidden: ClassForbidden, ErrUnavailable: ClassUnavailable,
		context.Canceled: ClassCanceled, context.DeadlineExceeded: ClassCanceled,
		&Error{Reason: ReasonCanceled, kind: ErrUnavailable, cause: context.Canceled}: ClassCanceled,
	} {
		r := ReasonOf(err)
		if !seen[r] || r.Info().Class != class {
			t.Errorf("ReasonOf(%v) = %s (class %s, in table %v), want class %s", err, r, r.Info().Class, seen[r], class)
		}
	}
	// An unknown reason is described as an invalid token, never "retry".
	if ri := Reason("NEW_REASON").Info(); ri.Class != ClassInvalid || ri.Code != codes.Unauthenticated || ri.Reason != "NEW_REASON" {
		t.Errorf("unknown reason: %+v", ri)
	}
	for err, want := range map[error]string{context.Canceled: ResultCanceled, ErrRejected: ResultDeny} {
		if got := DecisionResult(err); got != want {
			t.Errorf("DecisionResult(%v) = %s, want %s", err, got, want)
		}
	}
}
