package interceptor

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
)

// plainInfo is the AuthInfo of a plaintext connection.
type plainInfo struct{ credentials.CommonAuthInfo }

func (plainInfo) AuthType() string { return "plain" }

func TestPerRPCCredentials(t *testing.T) {
	secure := NewPerRPCCredentials("tok")
	if !secure.RequireTransportSecurity() {
		t.Error("NewPerRPCCredentials does not require transport security")
	}
	if NewInsecurePerRPCCredentials("tok").RequireTransportSecurity() {
		t.Error("NewInsecurePerRPCCredentials requires transport security")
	}
	tlsCtx := credentials.NewContextWithRequestInfo(context.Background(), credentials.RequestInfo{
		AuthInfo: credentials.TLSInfo{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}},
	})
	md, err := secure.GetRequestMetadata(tlsCtx)
	if err != nil || md["authorization"] != "Bearer tok" || len(md) != 1 {
		t.Errorf("GetRequestMetadata over TLS = %v, %v", md, err)
	}
	plainCtx := credentials.NewContextWithRequestInfo(context.Background(), credentials.RequestInfo{
		AuthInfo: plainInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}},
	})
	if md, err := secure.GetRequestMetadata(plainCtx); err == nil {
		t.Errorf("GetRequestMetadata over plaintext = %v, want an error", md)
	}

	// Over bufconn (plaintext): the insecure variant works end to end,
	// the secure one is refused by grpc.
	h := hankotest.NewServer()
	defer h.Close()
	v, _ := newValidator(t, h, hankoauth.ModeHybrid)
	m := h.MustMint(t, hankotest.Session{})
	conn := serveDial(t, nil, serverOpts(v), grpc.WithPerRPCCredentials(NewInsecurePerRPCCredentials(m.Token)))
	resp, err := testpb.NewTestServiceClient(conn).UnaryCall(context.Background(), &testpb.SimpleRequest{})
	if err != nil || resp.Username != m.UserID {
		t.Fatalf("UnaryCall = %v, %v; want user %s", resp, err, m.UserID)
	}
	conn = serve(t, nil, serverOpts(v)...)
	_, err = testpb.NewTestServiceClient(conn).UnaryCall(context.Background(), &testpb.SimpleRequest{},
		grpc.PerRPCCredentials(NewPerRPCCredentials(m.Token)))
	if err == nil {
		t.Error("secure credentials were sent over plaintext")
	}
}

// TestForwardingChain: client -> front -> back, over bufconn; front's
// handler calls back with its own context, and the client interceptors
// forward the session.
func TestForwardingChain(t *testing.T) {
	h := hankotest.NewServer()
	defer h.Close()
	v, _ := newValidator(t, h, hankoauth.ModeHybrid)
	quiet := WithLogger(newLogger(&logBuffer{}))
	back := serveDial(t, nil, serverOpts(v, quiet),
		grpc.WithUnaryInterceptor(mustForwarder().Unary()),
		grpc.WithStreamInterceptor(mustForwarder().Stream()))
	m := h.MustMint(t, hankotest.Session{})

	for _, tt := range []struct {
		name       string
		frontOpts  []Option
		md         metadata.MD
		wantCode   codes.Code
		wantReason hankoauth.Reason
	}{
		{name: "validated token", md: metadata.Pairs("cookie", "hanko="+m.Token)},
		{name: "grpc-gateway cookie", md: metadata.Pairs("grpcgateway-cookie", "hanko="+m.Token)},
		{
			name:      "public front method: token from incoming metadata",
			frontOpts: []Option{WithPublicMethods("grpc.testing.TestService")},
			md:        metadata.Pairs("authorization", "Bearer "+m.Token),
		},
		{
			name:      "public front method without token",
			frontOpts: []Option{WithPublicMethods("grpc.testing.TestService")},
			wantCode:  codes.Unauthenticated, wantReason: hankoauth.ReasonTokenMissing,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			front := serve(t, &testService{next: testpb.NewTestServiceClient(back)}, serverOpts(v, append(tt.frontOpts, quiet)...)...)
			ctx := context.Background()
			if tt.md != nil {
				ctx = metadata.NewOutgoingContext(ctx, tt.md)
			}
			resp, err := testpb.NewTestServiceClient(front).UnaryCall(ctx, &testpb.SimpleRequest{})
			if tt.wantCode != codes.OK {
				checkStatus(t, err, tt.wantCode, "missing session token", tt.wantReason)
				return
			}
			if err != nil || resp.Username != m.UserID {
				t.Fatalf("UnaryCall = %v, %v; want user %s from the back service", resp, err, m.UserID)
			}
		})
	}
}

// TestForward checks what the client interceptors add to outgoing calls.
func TestForward(t *testing.T) {
	validated := context.Context(&tokenContext{Context: context.Background(), token: "validated"})
	incoming := func(kv ...string) context.Context {
		return metadata.NewIncomingContext(context.Background(), metadata.Pairs(kv...))
	}
	tests := []struct {
		name     string
		opts     []ClientOption
		ctx      context.Context
		callOpts []grpc.CallOption
		want     []string // outgoing authorization values
	}{
		{name: "validated token", ctx: validated, want: []string{"Bearer validated"}},
		{name: "validated token wins over incoming", ctx: metadata.NewIncomingContext(validated, metadata.Pairs("cookie", "hanko=other")), want: []string{"Bearer validated"}},
		{name: "incoming bearer", ctx: incoming("authorization", "Bearer in"), want: []string{"Bearer in"}},
		{name: "incoming cookie", ctx: incoming("cookie", "a=b; hanko=in"), want: []string{"Bearer in"}},
		{name: "incoming custom cookie", opts: []ClientOption{WithForwardCookieName("s")}, ctx: incoming("cookie", "s=in"), want: []string{"Bearer in"}},
		{name: "incoming token header", opts: []ClientOption{WithForwardTokenHeader("x-token")}, ctx: incoming("x-token", "in"), want: []string{"Bearer in"}},
		{name: "incoming ambiguous", ctx: incoming("authorization", "Bearer a", "cookie", "hanko=b")},
		{name: "incoming basic", ctx: incoming("authorization", "Basic x")},
		{name: "nothing", ctx: context.Background()},
		{
			name: "outgoing authorization kept",
			ctx:  metadata.AppendToOutgoingContext(validated, "authorization", "Bearer mine"),
			want: []string{"Bearer mine"},
		},
		{
			name:     "per-RPC credentials in the call",
			ctx:      validated,
			callOpts: []grpc.CallOption{grpc.PerRPCCredentials(NewPerRPCCredentials("x"))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var unaryGot, streamGot []string
			invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
				md, _ := metadata.FromOutgoingContext(ctx)
				unaryGot = md.Get("authorization")
				return nil
			}
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				md, _ := metadata.FromOutgoingContext(ctx)
				streamGot = md.Get("authorization")
				return nil, nil
			}
			f := mustForwarder(tt.opts...)
			if err := f.Unary()(tt.ctx, "/a.S/M", nil, nil, nil, invoker, tt.callOpts...); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Stream()(tt.ctx, &grpc.StreamDesc{}, nil, "/a.S/M", streamer, tt.callOpts...); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(unaryGot, tt.want) || !slices.Equal(streamGot, tt.want) {
				t.Errorf("authorization = %q (unary), %q (stream); want %q", unaryGot, streamGot, tt.want)
			}
		})
	}
}

func mustForwarder(opts ...ClientOption) *Forwarder {
	f, err := NewForwarder(opts...)
	if err != nil {
		panic(err)
	}
	return f
}

func TestNewForwarderRejectsBadOptions(t *testing.T) {
	for _, bad := range []string{"authorization", "Cookie", "grpcgateway-cookie", ""} {
		if _, err := NewForwarder(WithForwardTokenHeader(bad)); err == nil {
			t.Errorf("NewForwarder(WithForwardTokenHeader(%q)) did not fail", bad)
		}
	}
	if _, err := NewForwarder(WithForwardTokenHeader("x-token"), WithForwardCookieName("s")); err != nil {
		t.Errorf("NewForwarder with valid options: %v", err)
	}
}
