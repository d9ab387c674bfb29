package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/interceptor"
)

// serveGRPC serves g on addr until ctx ends.
func serveGRPC(ctx context.Context, g *grpc.Server, addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		g.Stop()
	}()
	return g.Serve(lis)
}

// serveHTTP serves h on addr until ctx ends.
func serveHTTP(ctx context.Context, h http.Handler, addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// noopServer allows every CheckRequest without looking at it: the floor.
type noopServer struct {
	authv3.UnimplementedAuthorizationServer
}

func (noopServer) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return &authv3.CheckResponse{
		Status:       &status.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}},
	}, nil
}

// cmdNoop serves the no-op ext_authz server over gRPC and, over HTTP, a
// handler that answers 200 to everything.
func cmdNoop(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("noop", flag.ContinueOnError)
	grpcAddr := fs.String("grpc-addr", "127.0.0.1:0", "gRPC address")
	httpAddr := fs.String("http-addr", "127.0.0.1:0", "HTTP address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	g := grpc.NewServer()
	authv3.RegisterAuthorizationServer(g, noopServer{})
	errc := make(chan error, 2)
	go func() { errc <- serveGRPC(ctx, g, *grpcAddr) }()
	go func() {
		errc <- serveHTTP(ctx, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
		}), *httpAddr)
	}()
	return <-errc
}

// cmdGuide serves HTTP as Hanko's Go guide does it: a middleware that
// takes the token from the hanko cookie (or a bearer header) and asks
// Hanko's POST /sessions/validate on every request.
func cmdGuide(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("guide", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "HTTP address")
	hanko := fs.String("hanko", "", "Hanko API URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	url := strings.TrimRight(*hanko, "/") + "/sessions/validate"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := ""
		if c, err := r.Cookie("hanko"); err == nil {
			token = c.Value
		} else if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			token = v
		}
		if token == "" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		body, _ := json.Marshal(map[string]string{"session_token": token})
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		defer resp.Body.Close()
		var v struct {
			IsValid bool `json:"is_valid"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&v); err != nil || !v.IsValid {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return serveHTTP(ctx, h, *addr)
}

// cmdApp serves a gRPC service (grpc.health.v1, with reflection for ghz)
// with or without our session interceptors in front of it.
func cmdApp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "gRPC address")
	hanko := fs.String("hanko", "", "Hanko API URL")
	guarded := fs.Bool("interceptors", false, "require a Hanko session on every call")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var opts []grpc.ServerOption
	if *guarded {
		v, err := hankoauth.New(hankoauth.Config{APIURL: *hanko})
		if err != nil {
			return err
		}
		defer v.Close()
		authn, err := interceptor.New(v, interceptor.WithPublicMethods("grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"))
		if err != nil {
			return err
		}
		opts = append(opts, grpc.UnaryInterceptor(authn.Unary()), grpc.StreamInterceptor(authn.Stream()))
	}
	g := grpc.NewServer(opts...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(g, hs)
	reflection.Register(g)
	return serveGRPC(ctx, g, *addr)
}
