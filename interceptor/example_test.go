package interceptor_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
	"github.com/hankoauth/hankoauth/interceptor"
)

// greeter is a service whose handlers read the session.
type greeter struct {
	testpb.UnimplementedTestServiceServer
}

func (greeter) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	s, _ := hankoauth.FromContext(ctx)
	return &testpb.SimpleResponse{Username: s.Email.Address}, nil
}

// Example configures the interceptor once and installs its unary and
// stream interceptors on a plain grpc.Server: every method, unary or
// streaming, needs a live Hanko session with a verified email, but for the
// public health service (whose Watch is a stream).
func Example() {
	hanko := hankotest.NewServer() // in production: your Hanko's API URL
	defer hanko.Close()
	v, err := hankoauth.New(hankoauth.Config{APIURL: hanko.URL})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	authn, err := interceptor.New(v,
		interceptor.WithPublicMethods(healthpb.Health_ServiceDesc.ServiceName),
		interceptor.WithRequirement(hankoauth.RequireVerifiedEmail()))
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(authn.Unary()),
		grpc.StreamInterceptor(authn.Stream()),
	)
	testpb.RegisterTestServiceServer(srv, greeter{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	defer srv.Stop()
	conn := serve(srv)
	defer conn.Close()
	client := testpb.NewTestServiceClient(conn)

	session, _ := hanko.Mint(hankotest.Session{Email: "ada@example.com"})
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+session.Token)
	resp, err := client.UnaryCall(ctx, &testpb.SimpleRequest{})
	fmt.Println(resp.GetUsername(), err)

	_, err = client.UnaryCall(context.Background(), &testpb.SimpleRequest{})
	printStatus(err)
	// Output:
	// ada@example.com <nil>
	// Unauthenticated "missing session token" TOKEN_MISSING
}

// ExampleInterceptor_AuthFunc plugs the authentication into
// go-grpc-middleware v2, and skips health checks with its selector.
func ExampleInterceptor_AuthFunc() {
	hanko := hankotest.NewServer()
	defer hanko.Close()
	v, err := hankoauth.New(hankoauth.Config{APIURL: hanko.URL})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	authn, err := interceptor.New(v, interceptor.WithLogger(slog.Default()))
	if err != nil {
		log.Fatal(err)
	}
	authFn := authn.AuthFunc()
	notHealth := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
		return c.Service != healthpb.Health_ServiceDesc.ServiceName
	})
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(selector.UnaryServerInterceptor(auth.UnaryServerInterceptor(authFn), notHealth)),
		grpc.ChainStreamInterceptor(selector.StreamServerInterceptor(auth.StreamServerInterceptor(authFn), notHealth)),
	)
	testpb.RegisterTestServiceServer(srv, greeter{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	defer srv.Stop()
	conn := serve(srv)
	defer conn.Close()

	h, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	fmt.Println(h.GetStatus(), err)
	_, err = testpb.NewTestServiceClient(conn).UnaryCall(context.Background(), &testpb.SimpleRequest{})
	printStatus(err)
	// Output:
	// SERVING <nil>
	// Unauthenticated "missing session token" TOKEN_MISSING
}

// ExampleStatusFromError shows the status a client gets for an expired
// session.
func ExampleStatusFromError() {
	printStatus(interceptor.StatusFromError(hankoauth.ErrExpired).Err())
	printStatus(interceptor.StatusFromError(hankoauth.ErrUnavailable).Err())
	// Output:
	// Unauthenticated "session expired" SESSION_EXPIRED
	// Unavailable "authentication temporarily unavailable" HANKO_UNAVAILABLE
}

// ExampleNewPerRPCCredentials sends a session token with every call of a
// client connection over TLS.
func ExampleNewPerRPCCredentials() {
	var token string // the user's Hanko session token
	conn, err := grpc.NewClient("api.example.com:443",
		grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(nil, "")),
		grpc.WithPerRPCCredentials(interceptor.NewPerRPCCredentials(token)),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
}

// ExampleForwarder forwards the caller's session from one service to the
// next: handlers call the next service with their own context.
func ExampleForwarder() {
	fwd, err := interceptor.NewForwarder()
	if err != nil {
		log.Fatal(err)
	}
	next, err := grpc.NewClient("next-service:8080",
		grpc.WithTransportCredentials(insecure.NewCredentials()), // mTLS at the sidecar
		grpc.WithUnaryInterceptor(fwd.Unary()),
		grpc.WithStreamInterceptor(fwd.Stream()),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer next.Close()
	_ = testpb.NewTestServiceClient(next) // used in the handlers
}

// serve serves srv in memory and returns a connection to it.
func serve(srv *grpc.Server) *grpc.ClientConn {
	lis := bufconn.Listen(1 << 20)
	go srv.Serve(lis)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	return conn
}

// printStatus prints a status's code, message and ErrorInfo reason.
func printStatus(err error) {
	st := status.Convert(err)
	reason := ""
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			reason = ei.Reason
		}
	}
	fmt.Printf("%v %q %s\n", st.Code(), st.Message(), reason)
}
