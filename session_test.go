package hankoauth

import (
	"testing"
	"time"
)

func TestSessionEndsAt(t *testing.T) {
	exp := fixtureClock.Add(time.Hour)
	for _, tt := range []struct {
		name string
		s    Session
		want time.Time
	}{
		{"expiry only", Session{ExpiresAt: exp}, exp},
		{"idle earlier", Session{ExpiresAt: exp, IdleExpiresAt: fixtureClock}, fixtureClock},
		{"idle later", Session{ExpiresAt: exp, IdleExpiresAt: exp.Add(time.Hour)}, exp},
		{"unknown", Session{}, time.Time{}},
	} {
		if got := tt.s.EndsAt(); !got.Equal(tt.want) {
			t.Errorf("%s: EndsAt = %v, want %v", tt.name, got, tt.want)
		}
	}
}
