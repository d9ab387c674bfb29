package extauthz

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hankoauth/hankoauth"
)

func TestRouteRequirement(t *testing.T) {
	fresh := &hankoauth.Session{IssuedAt: time.Now().Add(-time.Minute), AMR: []string{"passkey"},
		Email: &hankoauth.Email{Address: "a@example.com", Verified: true}}
	old := &hankoauth.Session{IssuedAt: time.Now().Add(-time.Hour), AMR: []string{"pwd"}}
	for _, tc := range []struct {
		name       string
		ext        map[string]string
		err        string // a parse error containing this
		fresh, old error  // what the requirement says of each session
	}{
		{"none", nil, "", nil, nil},
		{"foreign keys only", map[string]string{"tenant": "a", "hankox": "b"}, "", nil, nil},
		{"verified email", map[string]string{"hanko.require": "verified_email"}, "", nil, hankoauth.ErrForbidden},
		{"amr", map[string]string{"hanko.amr": "passkey, otp"}, "", nil, hankoauth.ErrForbidden},
		{"max age", map[string]string{"hanko.max_age": "5m"}, "", nil, hankoauth.ErrReauthenticate},
		{"all", map[string]string{"hanko.require": "verified_email", "hanko.amr": "passkey", "hanko.max_age": "5m"}, "", nil, hankoauth.ErrForbidden},
		{"typo", map[string]string{"hanko.requires": "verified_email"}, `unknown context extension "hanko.requires"`, nil, nil},
		{"unknown requirement", map[string]string{"hanko.require": "admin"}, `unknown requirement "admin"`, nil, nil},
		{"empty amr", map[string]string{"hanko.amr": " , "}, "is empty", nil, nil},
		{"bad max age", map[string]string{"hanko.max_age": "5 minutes"}, "not a positive duration", nil, nil},
		{"negative max age", map[string]string{"hanko.max_age": "-5m"}, "not a positive duration", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := routeRequirement(tc.ext, time.Now)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || r != nil {
					t.Fatalf("got %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				s    *hankoauth.Session
				want error
			}{{fresh, tc.fresh}, {old, tc.old}} {
				var got error
				if r != nil {
					got = r(context.Background(), c.s)
				}
				if (got == nil) != (c.want == nil) || (c.want != nil && !errors.Is(got, c.want)) {
					t.Errorf("session %+v: %v, want %v", c.s, got, c.want)
				}
			}
		})
	}
}

func FuzzRouteRequirement(f *testing.F) {
	f.Add("hanko.require", "verified_email", "hanko.max_age", "5m")
	f.Add("hanko.amr", "passkey,otp", "other", "x")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		r, err := routeRequirement(map[string]string{k1: v1, k2: v2}, time.Now)
		if err == nil && r != nil {
			_ = r(context.Background(), &hankoauth.Session{})
		}
	})
}
