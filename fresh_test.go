package hankoauth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hankoauth/hankoauth"
)

func TestRequireFreshLogin(t *testing.T) {
	r := hankoauth.RequireFreshLogin(5 * time.Minute)
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
	}
}
