package sessionservice

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hankoauth/hankoauth"
	hankoauthv1 "github.com/hankoauth/hankoauth/gen/hankoauth/v1"
)

// ToProto converts a session to its hankoauth.v1 message. Absent values
// stay absent: a nil Email is an unset email field, a zero time an unset
// timestamp. A nil session gives nil.
func ToProto(s *hankoauth.Session) *hankoauthv1.Session {
	if s == nil {
		return nil
	}
	p := &hankoauthv1.Session{
		UserId:        s.UserID,
		SessionId:     s.SessionID,
		Username:      s.Username,
		Audience:      s.Audience,
		Issuer:        s.Issuer,
		Amr:           s.AMR,
		IssuedAt:      timestamp(s.IssuedAt),
		ExpiresAt:     timestamp(s.ExpiresAt),
		IdleExpiresAt: timestamp(s.IdleExpiresAt),
	}
	if s.Email != nil {
		p.Email = &hankoauthv1.Email{
			Address:  s.Email.Address,
			Verified: s.Email.Verified,
			Primary:  s.Email.Primary,
		}
	}
	return p
}

// timestamp converts t, leaving a zero time unset.
func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
