package sessionservice_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hankoauth/hankoauth"
	hankoauthv1 "github.com/hankoauth/hankoauth/gen/hankoauth/v1"
	"github.com/hankoauth/hankoauth/hankotest"
	"github.com/hankoauth/hankoauth/interceptor"
	"github.com/hankoauth/hankoauth/sessionservice"
)

func TestToProto(t *testing.T) {
	iat := time.Unix(1_700_000_000, 0).UTC()
	full := &hankoauth.Session{
		UserID:        "u1",
		SessionID:     "s1",
		Email:         &hankoauth.Email{Address: "a@example.com", Verified: true, Primary: true},
		Username:      "alice",
		Audience:      []string{"localhost"},
		Issuer:        "https://auth.example.com",
		AMR:           []string{"pwd", "otp"},
		IssuedAt:      iat,
		ExpiresAt:     iat.Add(time.Hour),
		IdleExpiresAt: iat.Add(time.Minute),
	}
	for _, tc := range []struct {
		name string
		in   *hankoauth.Session
		want *hankoauthv1.Session
	}{
		{"nil", nil, nil},
		{"full", full, &hankoauthv1.Session{
			UserId:        "u1",
			SessionId:     "s1",
			Email:         &hankoauthv1.Email{Address: "a@example.com", Verified: true, Primary: true},
			Username:      "alice",
			Audience:      []string{"localhost"},
			Issuer:        "https://auth.example.com",
			Amr:           []string{"pwd", "otp"},
			IssuedAt:      timestamppb.New(iat),
			ExpiresAt:     timestamppb.New(iat.Add(time.Hour)),
			IdleExpiresAt: timestamppb.New(iat.Add(time.Minute)),
		}},
		{"minimal: absent stays absent", &hankoauth.Session{UserID: "u1", SessionID: "s1"},
			&hankoauthv1.Session{UserId: "u1", SessionId: "s1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, sessionservice.ToProto(tc.in), protocmp.Transform()); diff != "" {
				t.Errorf("ToProto (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWhoAmI(t *testing.T) {
	s := newSetup(t, setupConfig{})
	m := s.hanko.MustMint(t, hankotest.Session{Email: "alice@example.com", AMR: []string{"passkey"}})
	for _, tc := range []struct {
		name   string
		md     []string
		code   codes.Code
		reason hankoauth.Reason
	}{
		{"bearer", []string{"authorization", "Bearer " + m.Token}, codes.OK, ""},
		{"cookie", []string{"cookie", "theme=dark; hanko=" + m.Token}, codes.OK, ""},
		{"none", nil, codes.Unauthenticated, hankoauth.ReasonTokenMissing},
		{"garbage", []string{"authorization", "Bearer not-a-jwt"}, codes.Unauthenticated, hankoauth.ReasonTokenMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := bearer(t, "")
			if tc.md != nil {
				ctx = metadata.AppendToOutgoingContext(ctx, tc.md...)
			}
			resp, err := s.client.WhoAmI(ctx, &hankoauthv1.WhoAmIRequest{})
			if tc.code != codes.OK {
				checkStatus(t, err, tc.code, tc.reason)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := resp.GetSession()
			if got.GetUserId() != m.UserID || got.GetSessionId() != m.SessionID ||
				got.GetEmail().GetAddress() != "alice@example.com" || !got.GetExpiresAt().AsTime().Equal(m.ExpiresAt) ||
				len(got.GetAmr()) != 1 || got.GetAmr()[0] != "passkey" {
				t.Errorf("session = %v, want user %s, session %s", got, m.UserID, m.SessionID)
			}
		})
	}
}

// Without the interceptors there is no session in the context: WhoAmI
// answers Unauthenticated rather than an empty session.
func TestWhoAmIWithoutInterceptor(t *testing.T) {
	h := hankotest.NewServer()
	defer h.Close()
	v := newValidator(t, h, time.Minute, nil)
	_, err := sessionservice.New(v).WhoAmI(context.Background(), &hankoauthv1.WhoAmIRequest{})
	checkStatus(t, err, codes.Unauthenticated, hankoauth.ReasonTokenMissing)
}

func TestValidateSession(t *testing.T) {
	s := newSetup(t, setupConfig{})
	caller := s.hanko.MustMint(t, hankotest.Session{})
	live := s.hanko.MustMint(t, hankotest.Session{Email: "bob@example.com"})
	expired := s.hanko.MustMint(t, hankotest.Session{Lifetime: -time.Hour})
	revoked := s.hanko.MustMint(t, hankotest.Session{})
	s.hanko.Revoke(revoked.SessionID)

	for _, tc := range []struct {
		name   string
		token  string
		reason hankoauth.Reason // "" for valid
	}{
		{"valid", live.Token, ""},
		{"expired", expired.Token, hankoauth.ReasonExpired},
		{"revoked", revoked.Token, hankoauth.ReasonRevoked},
		{"garbage", "garbage", hankoauth.ReasonTokenMalformed},
		{"empty", "", hankoauth.ReasonTokenMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := s.client.ValidateSession(bearer(t, caller.Token), &hankoauthv1.ValidateSessionRequest{SessionToken: tc.token})
			if err != nil {
				t.Fatal(err)
			}
			if tc.reason == "" {
				want := &hankoauthv1.ValidateSessionResponse{Valid: true}
				if resp.GetSession().GetUserId() != live.UserID || resp.GetSession().GetEmail().GetAddress() != "bob@example.com" {
					t.Errorf("session = %v, want user %s", resp.GetSession(), live.UserID)
				}
				resp.Session = nil
				if diff := cmp.Diff(want, resp, protocmp.Transform()); diff != "" {
					t.Errorf("response (-want +got):\n%s", diff)
				}
				return
			}
			want := &hankoauthv1.ValidateSessionResponse{Reason: string(tc.reason)}
			if diff := cmp.Diff(want, resp, protocmp.Transform()); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("caller without a session", func(t *testing.T) {
		_, err := s.client.ValidateSession(bearer(t, ""), &hankoauthv1.ValidateSessionRequest{SessionToken: live.Token})
		checkStatus(t, err, codes.Unauthenticated, hankoauth.ReasonTokenMissing)
	})

	t.Run("hanko down", func(t *testing.T) {
		// The caller's session is cached; the token under test is new,
		// so its check needs Hanko, which fails.
		other := s.hanko.MustMint(t, hankotest.Session{})
		s.hanko.Fail(hankotest.EndpointValidate, hankotest.Failure{Status: 503})
		defer s.hanko.ClearFailures()
		before := s.hanko.Calls(hankotest.EndpointValidate)
		_, err := s.client.ValidateSession(bearer(t, caller.Token), &hankoauthv1.ValidateSessionRequest{SessionToken: other.Token})
		checkStatus(t, err, codes.Unavailable, hankoauth.ReasonUnavailable)
		if s.hanko.Calls(hankotest.EndpointValidate) == before {
			t.Error("the token under test never reached Hanko")
		}
	})
}

// watch opens a WatchSession stream and collects its updates until it
// ends, returning them and the final error.
func watch(t *testing.T, s *setup, token string, interval time.Duration, onFirst func()) ([]*hankoauthv1.WatchSessionResponse, error) {
	t.Helper()
	req := &hankoauthv1.WatchSessionRequest{}
	if interval != 0 {
		req.Interval = durationpb.New(interval)
	}
	stream, err := s.client.WatchSession(bearer(t, token), req)
	if err != nil {
		t.Fatal(err)
	}
	var got []*hankoauthv1.WatchSessionResponse
	for {
		msg, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				t.Fatal("stream ended with OK, want an error")
			}
			return got, err
		}
		got = append(got, msg)
		if len(got) == 1 && onFirst != nil {
			onFirst()
		}
	}
}

// checkUpdates checks that all updates but the last are ACTIVE for the
// session, and that the last one has the state final (UNSPECIFIED: the
// last one is ACTIVE too, there is no final update).
func checkUpdates(t *testing.T, got []*hankoauthv1.WatchSessionResponse, m hankotest.Minted, final hankoauthv1.SessionState, minActive int) {
	t.Helper()
	active := got
	if final != hankoauthv1.SessionState_SESSION_STATE_UNSPECIFIED {
		if len(got) == 0 || got[len(got)-1].GetState() != final {
			t.Fatalf("updates = %v, want a final %v", got, final)
		}
		active = got[:len(got)-1]
	}
	if len(active) < minActive {
		t.Errorf("%d active updates, want at least %d", len(active), minActive)
	}
	for i, u := range got {
		if i < len(active) && u.GetState() != hankoauthv1.SessionState_SESSION_STATE_ACTIVE {
			t.Errorf("update %d: state %v, want ACTIVE", i, u.GetState())
		}
		if u.GetSession().GetSessionId() != m.SessionID || u.GetServerTime() == nil {
			t.Errorf("update %d = %v, want session %s and a server time", i, u, m.SessionID)
		}
	}
}

func TestWatchSessionExpires(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []interceptor.Option
	}{
		// WatchSession takes the end of its stream over from the
		// interceptor's watcher (interceptor.OwnStreamEnd): the final
		// update always arrives.
		{"interceptor watcher on", nil},
		{"interceptor watcher off", []interceptor.Option{interceptor.WithStreamExpiry(false)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSetup(t, setupConfig{
				icptOpts: tc.opts,
				opts:     []sessionservice.Option{sessionservice.WithWatchInterval(0, 100*time.Millisecond, 0)},
			})
			m := s.hanko.MustMint(t, hankotest.Session{Lifetime: 2 * time.Second})
			start := time.Now()
			got, err := watch(t, s, m.Token, 200*time.Millisecond, nil)
			checkStatus(t, err, codes.Unauthenticated, hankoauth.ReasonExpired)
			if now := time.Now(); now.Before(m.ExpiresAt) || now.After(m.ExpiresAt.Add(2*time.Second)) {
				t.Errorf("stream ended at %v, expiry %v (started %v)", now, m.ExpiresAt, start)
			}
			checkUpdates(t, got, m, hankoauthv1.SessionState_SESSION_STATE_EXPIRED, 2)
		})
	}
}

func TestWatchSessionRevoked(t *testing.T) {
	s := newSetup(t, setupConfig{revalidate: 100 * time.Millisecond,
		opts: []sessionservice.Option{sessionservice.WithWatchInterval(0, 100*time.Millisecond, 0)}})
	m := s.hanko.MustMint(t, hankotest.Session{})
	got, err := watch(t, s, m.Token, 100*time.Millisecond, func() { s.hanko.Revoke(m.SessionID) })
	checkStatus(t, err, codes.Unauthenticated, hankoauth.ReasonRevoked)
	checkUpdates(t, got, m, hankoauthv1.SessionState_SESSION_STATE_REVOKED, 1)
}

func TestWatchSessionHankoDown(t *testing.T) {
	s := newSetup(t, setupConfig{revalidate: 100 * time.Millisecond,
		opts: []sessionservice.Option{sessionservice.WithWatchInterval(0, 100*time.Millisecond, 0)}})
	m := s.hanko.MustMint(t, hankotest.Session{})
	got, err := watch(t, s, m.Token, 100*time.Millisecond, func() {
		s.hanko.Fail(hankotest.EndpointValidate, hankotest.Failure{Status: 500})
	})
	checkStatus(t, err, codes.Unavailable, hankoauth.ReasonUnavailable)
	checkUpdates(t, got, m, hankoauthv1.SessionState_SESSION_STATE_UNSPECIFIED, 1)
}

// The validator's clock decides expiry: advancing it past the token's exp
// ends the stream at the next tick.
func TestWatchSessionClock(t *testing.T) {
	c := &clock{}
	s := newSetup(t, setupConfig{now: c.Now, opts: []sessionservice.Option{
		sessionservice.WithWatchInterval(50*time.Millisecond, 10*time.Millisecond, 0),
	}})
	m := s.hanko.MustMint(t, hankotest.Session{})
	got, err := watch(t, s, m.Token, 0, func() { c.Advance(13 * time.Hour) })
	checkStatus(t, err, codes.Unauthenticated, hankoauth.ReasonExpired)
	checkUpdates(t, got, m, hankoauthv1.SessionState_SESSION_STATE_EXPIRED, 1)
	if last := got[len(got)-1].GetServerTime().AsTime(); last.Before(m.ExpiresAt) {
		t.Errorf("final server_time %v is before the expiry %v", last, m.ExpiresAt)
	}
}

func TestWatchSessionInterval(t *testing.T) {
	s := newSetup(t, setupConfig{})
	m := s.hanko.MustMint(t, hankotest.Session{})
	for _, d := range []*durationpb.Duration{{Seconds: -1}, {Seconds: 1, Nanos: -5}} {
		stream, err := s.client.WatchSession(bearer(t, m.Token), &hankoauthv1.WatchSessionRequest{Interval: d})
		if err != nil {
			t.Fatal(err)
		}
		_, err = stream.Recv()
		checkStatus(t, err, codes.InvalidArgument, "")
	}
	// No token: the interceptor rejects the stream.
	stream, err := s.client.WatchSession(bearer(t, ""), &hankoauthv1.WatchSessionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	checkStatus(t, err, codes.Unauthenticated, hankoauth.ReasonTokenMissing)
}

// A client that cancels its stream ends it with Canceled, and the handler
// returns.
func TestWatchSessionCancel(t *testing.T) {
	s := newSetup(t, setupConfig{})
	m := s.hanko.MustMint(t, hankotest.Session{})
	ctx, cancel := context.WithCancel(bearer(t, m.Token))
	stream, err := s.client.WatchSession(ctx, &hankoauthv1.WatchSessionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = stream.Recv()
	checkStatus(t, err, codes.Canceled, "")
}
