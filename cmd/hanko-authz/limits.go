package main

import (
	"flag"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/hankoauth/hankoauth/extauthz"
)

// limitsConfig bounds what one client can make the server hold: the gRPC
// server's header lists, streams, message sizes and idle connections, and
// the HTTP server's reads and idle connections. The defaults fit an auth
// server, whose requests are small (a token of at most 16 KiB, a
// CheckRequest of a few KiB) and whose callers are a few proxies with
// long-lived connections.
type limitsConfig struct {
	httpProxy *choiceValue

	grpcMaxHeaderListSize    int
	grpcMaxConcurrentStreams int
	grpcMaxRecvMsgSize       int
	grpcMaxConnectionIdle    time.Duration
	grpcKeepaliveMinTime     time.Duration
	grpcConnectionTimeout    time.Duration

	httpReadTimeout    time.Duration
	httpWriteTimeout   time.Duration
	httpIdleTimeout    time.Duration
	httpMaxHeaderBytes int
}

// The default limits (see limitsConfig and the README's "Limits").
const (
	defaultGRPCMaxHeaderListSize    = 32 << 10
	defaultGRPCMaxConcurrentStreams = 100
	defaultGRPCMaxRecvMsgSize       = 1 << 20
	defaultGRPCMaxConnectionIdle    = 5 * time.Minute
	defaultGRPCKeepaliveMinTime     = 10 * time.Second
	defaultGRPCConnectionTimeout    = 10 * time.Second
	defaultHTTPReadTimeout          = 10 * time.Second
	defaultHTTPWriteTimeout         = 30 * time.Second
	defaultHTTPIdleTimeout          = 2 * time.Minute
	defaultHTTPMaxHeaderBytes       = 64 << 10
	// httpMaxBodyBytes bounds the body the HTTP listener reads: none of
	// its handlers needs one, an auth_request sends none.
	httpMaxBodyBytes = 64 << 10
)

// addLimitsFlags registers the flags of c.
func addLimitsFlags(fs *flag.FlagSet, c *limitsConfig) {
	c.httpProxy = newChoice("envoy", "envoy", "nginx", "forward-auth")
	fs.Var(c.httpProxy, "authz-http-proxy", "ext_authz: the `proxy` calling /authz/, which says where the original path and method come from: envoy (the path after /authz, http_service), nginx (X-Original-URI/-Method, auth_request) or forward-auth (X-Forwarded-Uri/-Method, Traefik and Caddy)")
	fs.IntVar(&c.grpcMaxHeaderListSize, "grpc-max-header-list-size", defaultGRPCMaxHeaderListSize, "gRPC: largest metadata (header list, decoded) of one call, in `bytes`")
	fs.IntVar(&c.grpcMaxConcurrentStreams, "grpc-max-concurrent-streams", defaultGRPCMaxConcurrentStreams, "gRPC: most calls open at once on one connection")
	fs.IntVar(&c.grpcMaxRecvMsgSize, "grpc-max-recv-msg-size", defaultGRPCMaxRecvMsgSize, "gRPC: largest request message, in `bytes`")
	fs.DurationVar(&c.grpcMaxConnectionIdle, "grpc-max-connection-idle", defaultGRPCMaxConnectionIdle, "gRPC: close a connection without calls for this long")
	fs.DurationVar(&c.grpcKeepaliveMinTime, "grpc-keepalive-min-time", defaultGRPCKeepaliveMinTime, "gRPC: shortest interval between a client's keepalive pings; clients pinging more often are disconnected")
	fs.DurationVar(&c.grpcConnectionTimeout, "grpc-connection-timeout", defaultGRPCConnectionTimeout, "gRPC: time a new connection has to finish its TLS and HTTP/2 handshake")
	fs.DurationVar(&c.httpReadTimeout, "http-read-timeout", defaultHTTPReadTimeout, "HTTP: time to read a whole request, headers and body")
	fs.DurationVar(&c.httpWriteTimeout, "http-write-timeout", defaultHTTPWriteTimeout, "HTTP: time to write a response, from the end of the request headers")
	fs.DurationVar(&c.httpIdleTimeout, "http-idle-timeout", defaultHTTPIdleTimeout, "HTTP: close a keep-alive connection without requests for this long")
	fs.IntVar(&c.httpMaxHeaderBytes, "http-max-header-bytes", defaultHTTPMaxHeaderBytes, "HTTP: largest request header block, in `bytes`")
}

// check reports the first invalid limit.
func (c *limitsConfig) check() error {
	for _, n := range []struct {
		name string
		v    int
	}{
		{"--grpc-max-header-list-size", c.grpcMaxHeaderListSize},
		{"--grpc-max-concurrent-streams", c.grpcMaxConcurrentStreams},
		{"--grpc-max-recv-msg-size", c.grpcMaxRecvMsgSize},
		{"--http-max-header-bytes", c.httpMaxHeaderBytes},
	} {
		if n.v <= 0 || n.v > math.MaxInt32 {
			return usageErrorf("%s must be positive", n.name)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"--grpc-max-connection-idle", c.grpcMaxConnectionIdle},
		{"--grpc-keepalive-min-time", c.grpcKeepaliveMinTime},
		{"--grpc-connection-timeout", c.grpcConnectionTimeout},
		{"--http-read-timeout", c.httpReadTimeout},
		{"--http-write-timeout", c.httpWriteTimeout},
		{"--http-idle-timeout", c.httpIdleTimeout},
	} {
		if d.v <= 0 {
			return usageErrorf("%s must be positive", d.name)
		}
	}
	return nil
}

// proxy is the extauthz.Proxy of --authz-http-proxy.
func (c *limitsConfig) proxy() extauthz.Proxy {
	p, err := extauthz.ParseProxy(c.httpProxy.value)
	if err != nil {
		return extauthz.ProxyEnvoy // unreachable: the flag is one of the choices
	}
	return p
}

// grpcOptions are the gRPC server options of the limits.
func (c *limitsConfig) grpcOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxHeaderListSize(uint32(c.grpcMaxHeaderListSize)),
		grpc.MaxConcurrentStreams(uint32(c.grpcMaxConcurrentStreams)),
		grpc.MaxRecvMsgSize(c.grpcMaxRecvMsgSize),
		grpc.ConnectionTimeout(c.grpcConnectionTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: c.grpcMaxConnectionIdle,
			Time:              2 * time.Hour, // grpc-go's default: ping idle clients rarely
			Timeout:           20 * time.Second,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             c.grpcKeepaliveMinTime,
			PermitWithoutStream: true, // Envoy keeps pooled connections alive between calls
		}),
	}
}

// httpServer returns the HTTP server of the limits for handler: every
// read, write and idle connection bounded, and request bodies cut at
// httpMaxBodyBytes.
func (c *limitsConfig) httpServer(handler http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           http.MaxBytesHandler(handler, httpMaxBodyBytes),
		ReadHeaderTimeout: min(c.httpReadTimeout, 10*time.Second),
		ReadTimeout:       c.httpReadTimeout,
		WriteTimeout:      c.httpWriteTimeout,
		IdleTimeout:       c.httpIdleTimeout,
		MaxHeaderBytes:    c.httpMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// authzRaw sends every request for /authz and below to authz as it came,
// and the others to mux. ServeMux would clean "//" and dot segments first
// and answer with a redirect, which a proxy might follow or pass on; the
// ext_authz handler judges such paths itself (they are never public).
func authzRaw(authz, mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.EscapedPath(); p == "/authz" || strings.HasPrefix(p, "/authz/") {
			authz.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}
