package envoy

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/extauthz"
)

// The shipped configs the tests run.
const (
	grpcConfig = "deploy/envoy/envoy.yaml"      // gRPC ext_authz
	httpConfig = "deploy/envoy/envoy-http.yaml" // HTTP ext_authz (http_service)
)

// stack is Hanko, an authorization server, the upstream and Envoy.
type stack struct {
	hanko *hanko
	authz *authz // nil when the authorization server runs in the test
	up    *upstream
	envoy *envoy
}

// config is how to start Envoy.
type config struct {
	file  string              // the shipped config to run
	edit  func(string) string // optional change after the address rewrite
	flags []string            // extra hanko-authz flags
}

// startStack starts a stack around the hanko-authz binary.
func startStack(t *testing.T, c config) *stack {
	t.Helper()
	s := &stack{hanko: startHanko(t), up: startUpstream(t)}
	s.authz = startAuthz(t, s.hanko.url, c.flags...)
	s.envoy = runShipped(t, c, s.authz.grpcAddr, s.authz.httpAddr, s.up.addr)
	return s
}

// runShipped starts Envoy on the shipped config c.file with its addresses
// pointed at the given servers.
func runShipped(t *testing.T, c config, authzGRPC, authzHTTP, app string) *envoy {
	t.Helper()
	listen, admin := freeAddr(t), freeAddr(t)
	addrs := map[string]string{
		"127.0.0.1:9901": admin,
		"0.0.0.0:8080":   listen,
		"app:8000":       app,
	}
	switch c.file {
	case grpcConfig:
		addrs["hanko-authz:9001"] = authzGRPC
	case httpConfig:
		addrs["hanko-authz:9002"] = authzHTTP
	default:
		t.Fatalf("no address map for %s", c.file)
	}
	cfg := rewriteAddresses(t, readConfig(t, c.file), addrs)
	if c.edit != nil {
		cfg = c.edit(cfg)
	}
	return startEnvoy(t, cfg, listen, admin)
}

// startRequirementStack is a stack whose authorization server runs in the
// test, from the extauthz package, with a Requirement (verified email):
// hanko-authz has no flag for requirements, and a failed one is the only
// way to get a 403.
func startRequirementStack(t *testing.T, c config) *stack {
	t.Helper()
	s := &stack{hanko: startHanko(t), up: startUpstream(t)}
	v, err := hankoauth.New(hankoauth.Config{APIURL: s.hanko.url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	srv, err := extauthz.NewServer(v, extauthz.WithRequirement(hankoauth.RequireVerifiedEmail()),
		extauthz.WithPublicPaths("/public/", "/healthz"))
	if err != nil {
		t.Fatal(err)
	}

	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	srv.Register(gs)
	gdone := make(chan struct{})
	go func() {
		defer close(gdone)
		_ = gs.Serve(gl)
	}()
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/authz/", srv.HTTPHandler("/authz"))
	mux.HandleFunc("/readyz", func(http.ResponseWriter, *http.Request) {})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	hdone := make(chan struct{})
	go func() {
		defer close(hdone)
		_ = hs.Serve(hl)
	}()
	t.Cleanup(func() {
		gs.Stop()
		<-gdone
		hs.Close()
		<-hdone
	})
	s.envoy = runShipped(t, c, gl.Addr().String(), hl.Addr().String(), s.up.addr)
	return s
}
