package sessionservice_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/hankoauth/hankoauth"
	hankoauthv1 "github.com/hankoauth/hankoauth/gen/hankoauth/v1"
	"github.com/hankoauth/hankoauth/hankotest"
	"github.com/hankoauth/hankoauth/interceptor"
	"github.com/hankoauth/hankoauth/sessionservice"
)

// A server with the session service behind the interceptors, and a client
// asking who it is.
func Example() {
	hanko := hankotest.NewServer() // a fake Hanko; use your Hanko's API URL
	defer hanko.Close()

	v, err := hankoauth.New(hankoauth.Config{APIURL: hanko.URL})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	authn, err := interceptor.New(v)
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(authn.Unary()),
		grpc.StreamInterceptor(authn.Stream()),
	)
	sessionservice.New(v).Register(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()

	// The client side: a user's session token as a bearer token.
	m, err := hanko.Mint(hankotest.Session{Email: "alice@example.com"})
	if err != nil {
		log.Fatal(err)
	}
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := hankoauthv1.NewSessionServiceClient(conn)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+m.Token)
	resp, err := client.WhoAmI(ctx, &hankoauthv1.WhoAmIRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.GetSession().GetEmail().GetAddress())

	// ValidateSession: an invalid token is an answer, not an error.
	vr, err := client.ValidateSession(ctx, &hankoauthv1.ValidateSessionRequest{SessionToken: "not-a-token"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(vr.GetValid(), vr.GetReason())
	// Output:
	// alice@example.com
	// false TOKEN_MALFORMED
}
