package extauthz_test

import (
	"log"
	"log/slog"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/extauthz"
)

// A gRPC ext_authz server for Envoy or Istio on port 9001: every request
// needs a Hanko session, but for CORS preflights and /public/.
func Example() {
	v, err := hankoauth.New(hankoauth.Config{APIURL: "https://passkeys.example.com"})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	authz, err := extauthz.NewServer(v,
		extauthz.WithPublicPaths("/public/", "/healthz"),
		extauthz.WithPublicHTTPMethods("OPTIONS"),
		extauthz.WithLogger(slog.Default()),
	)
	if err != nil {
		log.Fatal(err)
	}
	s := grpc.NewServer()
	authz.Register(s)

	lis, err := net.Listen("tcp", "127.0.0.1:9001")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(lis)
	defer s.GracefulStop()
}

// The same decisions over HTTP, for Envoy's http_service (path_prefix
// "/authz") and for nginx auth_request or Traefik forwardAuth pointed at
// "/authz".
func ExampleServer_HTTPHandler() {
	v, err := hankoauth.New(hankoauth.Config{APIURL: "https://passkeys.example.com"})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	authz, err := extauthz.NewServer(v,
		extauthz.WithRequirement(hankoauth.RequireVerifiedEmail()),
		extauthz.WithRetryAfter(2*time.Second),
	)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/authz/", authz.HTTPHandler("/authz"))
	mux.Handle("/authz", authz.HTTPHandler("/authz"))
	srv := &http.Server{Addr: "127.0.0.1:9002", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.ListenAndServe()
	defer srv.Close()
}
