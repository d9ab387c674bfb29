package interceptor

import (
	"context"
	"errors"
	"testing"
	"time"

	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
)

// Requirements per method and per service, alongside the global one.
func TestMethodRequirements(t *testing.T) {
	hanko := &clock{} // the fake's clock, to mint an old login
	h := hankotest.NewServer(hankotest.WithClock(hanko.Now))
	defer h.Close()
	v, _ := newValidator(t, h, hankoauth.ModeHybrid)
	const (
		unary = "/grpc.testing.TestService/UnaryCall"
		empty = "/grpc.testing.TestService/EmptyCall"
	)
	opts := []Option{
		WithRequirement(hankoauth.RequireVerifiedEmail()),
		WithMethodRequirement("grpc.testing.TestService", hankoauth.RequireAMR("passkey")),
		WithMethodRequirement(unary, hankoauth.RequireFreshLogin(5*time.Minute, v.Now)),
		WithRequirementFunc(func(method string) hankoauth.Requirement {
			if method != empty {
				return nil
			}
			return func(_ context.Context, s *hankoauth.Session) error {
				if s.Username == "blocked" {
					return errors.New("blocked user")
				}
				return nil
			}
		}),
	}
	client := testpb.NewTestServiceClient(serve(t, nil, serverOpts(v, opts...)...))
	unverified := false
	hanko.Advance(-10 * time.Minute)
	old := h.MustMint(t, hankotest.Session{Email: "old@example.com", AMR: []string{"passkey"}})
	hanko.Advance(10 * time.Minute)
	carol := h.MustMint(t, hankotest.Session{Email: "carol@example.com", AMR: []string{"passkey"}})
	pwd := h.MustMint(t, hankotest.Session{Email: "pwd@example.com", AMR: []string{"pwd"}})
	unverifiedUser := h.MustMint(t, hankotest.Session{Email: "u@example.com", EmailVerified: &unverified, AMR: []string{"passkey"}})
	blocked := h.MustMint(t, hankotest.Session{Email: "b@example.com", Username: "blocked", AMR: []string{"passkey"}})

	call := func(method, tok string) error {
		ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok)
		var err error
		switch method {
		case unary:
			_, err = client.UnaryCall(ctx, &testpb.SimpleRequest{})
		case empty:
			_, err = client.EmptyCall(ctx, &testpb.Empty{})
		default:
			var stream testpb.TestService_StreamingOutputCallClient
			stream, err = client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{}}})
			if err == nil {
				_, err = stream.Recv()
			}
		}
		return err
	}
	const stream = "stream"
	for _, tc := range []struct {
		name, method, token string
		reason              hankoauth.Reason
	}{
		{"all met, unary", unary, carol.Token, hankoauth.ReasonOK},
		{"all met, empty", empty, carol.Token, hankoauth.ReasonOK},
		{"all met, stream", stream, carol.Token, hankoauth.ReasonOK},
		{"service requirement", empty, pwd.Token, hankoauth.ReasonForbidden},
		{"service requirement on a stream", stream, pwd.Token, hankoauth.ReasonForbidden},
		{"global requirement", empty, unverifiedUser.Token, hankoauth.ReasonForbidden},
		{"method requirement: login too old", unary, old.Token, hankoauth.ReasonReauthenticate},
		{"old login elsewhere", empty, old.Token, hankoauth.ReasonOK},
		{"requirement func", empty, blocked.Token, hankoauth.ReasonForbidden},
		{"requirement func elsewhere", unary, blocked.Token, hankoauth.ReasonOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := call(tc.method, tc.token)
			if tc.reason == hankoauth.ReasonOK {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			ri := tc.reason.Info()
			checkStatus(t, err, ri.Code, ri.Message, tc.reason, tc.token)
		})
	}
}

func TestMethodRequirementOptionErrors(t *testing.T) {
	v, err := hankoauth.New(hankoauth.Config{APIURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for _, o := range []Option{
		WithMethodRequirement("", hankoauth.RequireVerifiedEmail()),
		WithMethodRequirement("/a/b/c", hankoauth.RequireVerifiedEmail()),
		WithMethodRequirement("pkg.Svc", nil),
		WithRequirementFunc(nil),
	} {
		if _, err := New(v, o); err == nil {
			t.Error("New accepted a bad option")
		}
	}
	if _, err := New(v, WithMethodRequirement("pkg.Svc", hankoauth.RequireVerifiedEmail()),
		WithMethodRequirement("/pkg.Svc/", hankoauth.RequireAMR("pwd"))); err != nil {
		t.Errorf("two requirements for one service: %v", err)
	}
}
