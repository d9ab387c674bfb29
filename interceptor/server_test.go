package interceptor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
)

func TestUnary(t *testing.T) {
	h := hankotest.NewServer()
	defer h.Close()
	unverified := false

	bearer := func(tok, _ string) metadata.MD { return metadata.Pairs("authorization", "Bearer "+tok) }
	tests := []struct {
		name    string
		opts    []Option
		session hankotest.Session
		md      func(tok, other string) metadata.MD
		prepare func(*hankotest.Server)
		// want: codes.OK means the handler ran, and saw the session
		// unless public is set.
		wantCode   codes.Code
		wantMsg    string
		wantReason hankoauth.Reason
		public     bool
	}{
		{name: "bearer", md: bearer},
		{name: "bearer scheme in lower case", md: func(tok, _ string) metadata.MD { return metadata.Pairs("authorization", "bearer "+tok) }},
		{name: "cookie", md: func(tok, _ string) metadata.MD { return metadata.Pairs("cookie", "theme=dark; hanko="+tok) }},
		{name: "grpcgateway-cookie", md: func(tok, _ string) metadata.MD { return metadata.Pairs("grpcgateway-cookie", "hanko="+tok+"; x=y") }},
		{
			name: "custom cookie name",
			opts: []Option{WithCookieName("sid")},
			md:   func(tok, _ string) metadata.MD { return metadata.Pairs("cookie", "hanko=ignored; sid="+tok) },
		},
		{
			name: "extra token header",
			opts: []Option{WithTokenHeader("X-Session-Token")},
			md:   func(tok, _ string) metadata.MD { return metadata.Pairs("x-session-token", tok) },
		},
		{
			name: "same token in bearer and cookie",
			md: func(tok, _ string) metadata.MD {
				return metadata.Pairs("authorization", "Bearer "+tok, "cookie", "hanko="+tok)
			},
		},
		{
			name:     "no token",
			md:       func(string, string) metadata.MD { return metadata.Pairs("cookie", "theme=dark") },
			wantCode: codes.Unauthenticated, wantMsg: "missing session token", wantReason: hankoauth.ReasonTokenMissing,
		},
		{
			name:     "extra header not configured",
			md:       func(tok, _ string) metadata.MD { return metadata.Pairs("x-session-token", tok) },
			wantCode: codes.Unauthenticated, wantMsg: "missing session token", wantReason: hankoauth.ReasonTokenMissing,
		},
		{
			name: "ambiguous: bearer and another cookie",
			md: func(tok, other string) metadata.MD {
				return metadata.Pairs("authorization", "Bearer "+tok, "cookie", "hanko="+other)
			},
			wantCode: codes.Unauthenticated, wantMsg: "invalid session", wantReason: hankoauth.ReasonTokenAmbiguous,
		},
		{
			name: "ambiguous: two cookie headers",
			md: func(tok, other string) metadata.MD {
				return metadata.Pairs("cookie", "hanko="+tok, "grpcgateway-cookie", "hanko="+other)
			},
			wantCode: codes.Unauthenticated, wantMsg: "invalid session", wantReason: hankoauth.ReasonTokenAmbiguous,
		},
		{
			name:     "garbage",
			md:       func(string, string) metadata.MD { return metadata.Pairs("authorization", "Bearer not.a.jwt") },
			wantCode: codes.Unauthenticated, wantMsg: "invalid session", wantReason: hankoauth.ReasonTokenMalformed,
		},
		{
			name:     "basic scheme",
			md:       func(string, string) metadata.MD { return metadata.Pairs("authorization", "Basic dXNlcjpwYXNz") },
			wantCode: codes.Unauthenticated, wantMsg: "invalid session", wantReason: hankoauth.ReasonTokenMalformed,
		},
		{
			name:     "expired",
			session:  hankotest.Session{Lifetime: -time.Hour},
			md:       bearer,
			wantCode: codes.Unauthenticated, wantMsg: "session expired", wantReason: hankoauth.ReasonExpired,
		},
		{
			name:     "hanko answers 500",
			md:       bearer,
			prepare:  func(h *hankotest.Server) { h.Fail(hankotest.EndpointValidate, hankotest.Failure{Status: 500}) },
			wantCode: codes.Unavailable, wantMsg: "authentication temporarily unavailable", wantReason: hankoauth.ReasonUnavailable,
		},
		{
			name:     "hanko drops the connection",
			md:       bearer,
			prepare:  func(h *hankotest.Server) { h.Fail(hankotest.EndpointValidate, hankotest.Failure{Drop: true}) },
			wantCode: codes.Unavailable, wantMsg: "authentication temporarily unavailable", wantReason: hankoauth.ReasonUnavailable,
		},
		{
			name:     "requirement not met",
			opts:     []Option{WithRequirement(hankoauth.RequireVerifiedEmail())},
			session:  hankotest.Session{Email: "a@example.com", EmailVerified: &unverified},
			md:       bearer,
			wantCode: codes.PermissionDenied, wantMsg: "permission denied", wantReason: hankoauth.ReasonForbidden,
		},
		{
			name:     "requirement with a plain error",
			opts:     []Option{WithRequirement(func(context.Context, *hankoauth.Session) error { return errors.New("no") })},
			md:       bearer,
			wantCode: codes.PermissionDenied, wantMsg: "permission denied", wantReason: hankoauth.ReasonForbidden,
		},
		{
			name:    "requirement met",
			opts:    []Option{WithRequirement(hankoauth.RequireAll(hankoauth.RequireVerifiedEmail(), hankoauth.RequireAMR("passkey")))},
			session: hankotest.Session{Email: "a@example.com", AMR: []string{"passkey"}},
			md:      bearer,
		},
		{
			name:   "public method without token",
			opts:   []Option{WithPublicMethods("/grpc.testing.TestService/UnaryCall")},
			md:     func(string, string) metadata.MD { return nil },
			public: true,
		},
		{
			name:   "public method ignores a garbage token",
			opts:   []Option{WithPublicMethods("/grpc.testing.TestService/UnaryCall")},
			md:     func(string, string) metadata.MD { return metadata.Pairs("authorization", "Bearer garbage") },
			public: true,
		},
		{
			name:   "public service",
			opts:   []Option{WithPublicMethods("grpc.testing.TestService")},
			md:     func(string, string) metadata.MD { return nil },
			public: true,
		},
		{
			name:   "public service with slashes",
			opts:   []Option{WithPublicMethods("/grpc.testing.TestService/")},
			md:     func(string, string) metadata.MD { return nil },
			public: true,
		},
		{
			name:     "another method public",
			opts:     []Option{WithPublicMethods("/grpc.testing.TestService/EmptyCall", "grpc.testing.OtherService")},
			md:       func(string, string) metadata.MD { return nil },
			wantCode: codes.Unauthenticated, wantMsg: "missing session token", wantReason: hankoauth.ReasonTokenMissing,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := newValidator(t, h, hankoauth.ModeHybrid)
			var logs logBuffer
			var ds decisions
			opts := append([]Option{WithLogger(newLogger(&logs)), WithDecisionHook(ds.hook)}, tt.opts...)
			client := testpb.NewTestServiceClient(serve(t, nil, serverOpts(v, opts...)...))

			m := h.MustMint(t, tt.session)
			other := h.MustMint(t, hankotest.Session{})
			if tt.prepare != nil {
				tt.prepare(h)
				defer h.ClearFailures()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ctx = metadata.NewOutgoingContext(ctx, tt.md(m.Token, other.Token))
			resp, err := client.UnaryCall(ctx, &testpb.SimpleRequest{})

			if tt.wantCode == codes.OK {
				if err != nil {
					t.Fatalf("UnaryCall: %v", err)
				}
				wantUser := m.UserID
				if tt.public {
					wantUser = ""
				}
				if resp.Username != wantUser {
					t.Errorf("handler saw user %q, want %q", resp.Username, wantUser)
				}
			} else {
				checkStatus(t, err, tt.wantCode, tt.wantMsg, tt.wantReason, m.Token, other.Token)
				if !strings.Contains(logs.String(), "reason="+string(tt.wantReason)) {
					t.Errorf("log lacks the reason %s:\n%s", tt.wantReason, logs.String())
				}
			}
			if l := logs.String(); strings.Contains(l, m.Token) || strings.Contains(l, other.Token) {
				t.Errorf("log contains a token:\n%s", l)
			}
			d := ds.list()
			if len(d) != 1 {
				t.Fatalf("decisions = %+v, want one", d)
			}
			wantReason := tt.wantReason
			if wantReason == "" {
				wantReason = hankoauth.ReasonOK
			}
			if d[0].Edge != "interceptor" || d[0].Target != "/grpc.testing.TestService/UnaryCall" || d[0].Reason != wantReason || d[0].Public != tt.public {
				t.Errorf("decision = %+v, want reason %s, public %v", d[0], wantReason, tt.public)
			}
		})
	}
}

func TestUnaryRevoked(t *testing.T) {
	h := hankotest.NewServer()
	defer h.Close()
	for _, tt := range []struct {
		mode   hankoauth.Mode
		reason hankoauth.Reason
	}{
		{hankoauth.ModeHybrid, hankoauth.ReasonRevoked},
		{hankoauth.ModeRemote, hankoauth.ReasonRejected}, // remote mode cannot tell revoked from forged
	} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			v, clk := newValidator(t, h, tt.mode)
			client := testpb.NewTestServiceClient(serve(t, nil, serverOpts(v)...))
			m := h.MustMint(t, hankotest.Session{})
			ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+m.Token)

			if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
				t.Fatalf("before revocation: %v", err)
			}
			if !h.Revoke(m.SessionID) {
				t.Fatal("Revoke: no such session")
			}
			// Within RevalidateAfter the cached answer still lets it in.
			if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
				t.Fatalf("cached, right after revocation: %v", err)
			}
			clk.Advance(2 * time.Second) // past RevalidateAfter (1 s)
			_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{})
			checkStatus(t, err, codes.Unauthenticated, "invalid session", tt.reason, m.Token)
		})
	}
}

// TestUnaryCallerGaveUp calls the interceptor directly with a context that
// ends while Hanko is slow: the answer is the context's code, not
// Unavailable.
func TestUnaryCallerGaveUp(t *testing.T) {
	h := hankotest.NewServer()
	defer h.Close()
	h.Fail(hankotest.EndpointValidate, hankotest.Failure{Delay: 5 * time.Second})
	v, _ := newValidator(t, h, hankoauth.ModeHybrid)
	unary := mustNew(v, WithLogger(newLogger(&logBuffer{}))).Unary()
	info := &grpc.UnaryServerInfo{FullMethod: "/grpc.testing.TestService/UnaryCall"}
	handler := func(context.Context, any) (any, error) { t.Error("handler ran"); return nil, nil }

	for _, tt := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want codes.Code
	}{
		{"canceled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}, codes.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, codes.DeadlineExceeded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := h.MustMint(t, hankotest.Session{})
			ctx, cancel := tt.ctx()
			defer cancel()
			ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer "+m.Token))
			_, err := unary(ctx, nil, info, handler)
			if got := status.Code(err); got != tt.want {
				t.Fatalf("code = %v (%v), want %v", got, err, tt.want)
			}
		})
	}
}

// TestAuthFuncWithSelector composes AuthFunc with go-grpc-middleware's
// auth and selector interceptors: health checks skip authentication.
func TestAuthFuncWithSelector(t *testing.T) {
	h := hankotest.NewServer()
	defer h.Close()
	v, _ := newValidator(t, h, hankoauth.ModeHybrid)
	authFn := mustNew(v, WithPublicMethods("/grpc.testing.TestService/EmptyCall"), WithLogger(newLogger(&logBuffer{}))).AuthFunc()
	notHealth := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
		return c.Service != healthpb.Health_ServiceDesc.ServiceName
	})
	conn := serve(t, nil,
		grpc.ChainUnaryInterceptor(selector.UnaryServerInterceptor(auth.UnaryServerInterceptor(authFn), notHealth)),
		grpc.ChainStreamInterceptor(selector.StreamServerInterceptor(auth.StreamServerInterceptor(authFn), notHealth)),
	)
	client := testpb.NewTestServiceClient(conn)
	ctx := context.Background()

	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health check without token: %v", err)
	}
	if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
		t.Errorf("public method without token: %v", err)
	}
	_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{})
	checkStatus(t, err, codes.Unauthenticated, "missing session token", hankoauth.ReasonTokenMissing)

	m := h.MustMint(t, hankotest.Session{})
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+m.Token)
	resp, err := client.UnaryCall(ctx, &testpb.SimpleRequest{})
	if err != nil || resp.Username != m.UserID {
		t.Errorf("UnaryCall = %v, %v; want user %s", resp, err, m.UserID)
	}
	stream, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := stream.Recv()
	if err != nil || string(msg.GetPayload().GetBody()) != m.UserID {
		t.Errorf("stream Recv = %v, %v; want user %s", msg, err, m.UserID)
	}
}

// TestNewRejectsBadOptions checks that invalid options are errors of New,
// never panics, and that valid ones are not.
func TestNewRejectsBadOptions(t *testing.T) {
	h := hankotest.NewServer()
	defer h.Close()
	v, _ := newValidator(t, h, hankoauth.ModeLocal)
	tests := []struct {
		name string
		opts []Option
	}{
		{"empty public method", []Option{WithPublicMethods("")}},
		{"public slash", []Option{WithPublicMethods("/")}},
		{"public without service", []Option{WithPublicMethods("//Method")}},
		{"public with two slashes", []Option{WithPublicMethods("/a.B/C/D")}},
		{"public with space", []Option{WithPublicMethods("a b")}},
		{"token header authorization", []Option{WithTokenHeader("authorization")}},
		{"token header cookie", []Option{WithTokenHeader("Cookie")}},
		{"token header grpcgateway-cookie", []Option{WithTokenHeader("grpcgateway-cookie")}},
		{"token header empty", []Option{WithTokenHeader(" ")}},
		{"nil requirement", []Option{WithRequirement(nil)}},
		{"negative re-check", []Option{WithStreamRecheck(-time.Second)}},
		{"one bad among good", []Option{WithPublicMethods("a.B"), WithCookieName("c"), WithPublicMethods("")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if i, err := New(v, tt.opts...); err == nil {
				t.Errorf("New = %v, nil; want an error", i)
			}
		})
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) did not fail")
	}
	if _, err := New(v, WithPublicMethods("a.B", "/c.D/E"), WithTokenHeader("X-Token"), WithStreamRecheck(0), nil); err != nil {
		t.Errorf("New with valid options: %v", err)
	}
}

func TestPublicMethodsMatch(t *testing.T) {
	o, err := newOptions([]Option{WithPublicMethods("/a.S/M", "b.S", "/c.S/", "d.S/N")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		method string
		want   bool
	}{
		{"/a.S/M", true},
		{"/a.S/N", false},
		{"/b.S/Anything", true},
		{"/c.S/X", true},
		{"/d.S/N", true},
		{"/d.S/M", false},
		{"/b.Sx/M", false},
		{"/x.b.S/M", false},
		{"b.S/M", false},
		{"", false},
		{"/", false},
	} {
		if got := o.public.match(tt.method); got != tt.want {
			t.Errorf("match(%q) = %v, want %v", tt.method, got, tt.want)
		}
	}
}

// TestOneConfigurationForBothKinds is the setup that the per-kind
// constructors made easy to get wrong: options given once apply to
// streaming calls as well as unary ones. A requirement denies a stream,
// and a public service's stream (health Watch) needs no session.
func TestOneConfigurationForBothKinds(t *testing.T) {
	h := hankotest.NewServer()
	defer h.Close()
	v, _ := newValidator(t, h, hankoauth.ModeHybrid)
	conn := serve(t, nil, serverOpts(v,
		WithPublicMethods(healthpb.Health_ServiceDesc.ServiceName),
		WithRequirement(hankoauth.RequireVerifiedEmail()))...)
	unverified := false
	m := h.MustMint(t, hankotest.Session{Email: "eve@example.com", EmailVerified: &unverified})
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+m.Token)
	client := testpb.NewTestServiceClient(conn)

	_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{})
	checkStatus(t, err, codes.PermissionDenied, "permission denied", hankoauth.ReasonForbidden)
	stream, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	checkStatus(t, err, codes.PermissionDenied, "permission denied", hankoauth.ReasonForbidden)

	watch, err := healthpb.NewHealthClient(conn).Watch(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("public health Watch without a session = %v, %v; want SERVING", resp, err)
	}
}
