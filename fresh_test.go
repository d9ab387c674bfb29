package hankoauth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hankoauth/hankoauth"
)

func TestRequireFreshLogin(t *testing.T) {
	r := hankoauth.RequireFreshLogin(5*time.Minute, nil)
	for _, tc := range []struct {
		name string
		iat  time.Time
		ok   bool
	}{
		{"just now", time.Now(), true},
		{"4 minutes ago", time.Now().Add(-4 * time.Minute), true},
		{"6 minutes ago", time.Now().Add(-6 * time.Minute), false},
		{"no iat", time.Time{}, false},
	} {
		err := r(context.Background(), &hankoauth.Session{IssuedAt: tc.iat})
		if tc.ok != (err == nil) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if err != nil && (!errors.Is(err, hankoauth.ErrReauthenticate) || !errors.Is(err, hankoauth.ErrForbidden)) {
			t.Errorf("%s: %v matches neither ErrReauthenticate nor ErrForbidden", tc.name, err)
		}
		if err != nil && hankoauth.ReasonOf(err) != hankoauth.ReasonReauthenticate {
			t.Errorf("%s: reason %s", tc.name, hankoauth.ReasonOf(err))
		}
	}
	// The age is measured on the given clock.
	past := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clocked := hankoauth.RequireFreshLogin(time.Minute, func() time.Time { return past })
	if err := clocked(context.Background(), &hankoauth.Session{IssuedAt: past.Add(-30 * time.Second)}); err != nil {
		t.Errorf("on the given clock: %v", err)
	}
}
