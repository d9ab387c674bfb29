package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/extauthz"
	hankoauthv1 "github.com/hankoauth/hankoauth/gen/hankoauth/v1"
	"github.com/hankoauth/hankoauth/interceptor"
	"github.com/hankoauth/hankoauth/sessionservice"
)

// alwaysPublic are the gRPC services the session interceptors never guard:
// health and reflection, and Envoy's Authorization, whose Check call
// carries the end user's token inside the CheckRequest (the ext_authz
// server judges it), not in its own metadata.
var alwaysPublic = []string{
	"/grpc.health.v1.Health/",
	"/grpc.reflection.v1.ServerReflection/",
	"/grpc.reflection.v1alpha.ServerReflection/",
	"/envoy.service.auth.v3.Authorization/",
}

// healthServices are the services whose health status follows the
// validator's readiness, besides the server as a whole ("").
var healthServices = []string{"", hankoauthv1.SessionService_ServiceDesc.ServiceName, "envoy.service.auth.v3.Authorization"}

// hooks is the seam for observability (metrics and tracing): what they
// add to a server, all optional. observability in observe.go builds them;
// tests give their own.
type hooks struct {
	// Validator observes the validator.
	Validator *hankoauth.Hooks
	// HankoTransport, when set, wraps the transport of the validator's
	// calls to Hanko (instrumentation).
	HankoTransport func(http.RoundTripper) http.RoundTripper
	// ValidatorCreated is called with the validator once it exists.
	ValidatorCreated func(*hankoauth.Validator)
	// Decision receives the decisions of the interceptors and the
	// ext_authz server.
	Decision func(context.Context, hankoauth.Decision)
	// UnaryInterceptors and StreamInterceptors run before (outside) the
	// session interceptors, so they see rejected calls too.
	UnaryInterceptors  []grpc.UnaryServerInterceptor
	StreamInterceptors []grpc.StreamServerInterceptor
	// GRPCOptions are added to the gRPC server's options (a stats handler).
	GRPCOptions []grpc.ServerOption
	// GRPCRegistered is called with the gRPC server once every service
	// is registered.
	GRPCRegistered func(*grpc.Server)
	// HTTPRoutes adds handlers to the HTTP server's mux (/metrics).
	HTTPRoutes func(*http.ServeMux)
	// WrapAuthz wraps the HTTP ext_authz handler (server spans).
	WrapAuthz func(http.Handler) http.Handler
	// Shutdown is called last when the server stops (to flush exporters).
	Shutdown func(context.Context) error
	// Webhook observes the webhook receiver's deliveries.
	Webhook func(event, result string)
	// StreamCreated is called with the revocation stream's status.
	StreamCreated func(status func() (up bool, lag time.Duration))
}

// run serves cfg until ctx ends, then stops gracefully. h adds metrics
// and tracing (see observability).
func run(ctx context.Context, cfg serveConfig, log *slog.Logger, h hooks) error {
	srv, err := newServer(cfg, log, h)
	if err != nil {
		return err
	}
	return srv.serve(ctx)
}

// server is a configured hanko-authz with its listeners open: newServer
// builds it, serve runs it until its context ends.
type server struct {
	cfg      serveConfig
	log      *slog.Logger
	hooks    hooks
	v        *hankoauth.Validator
	grpc     *grpc.Server
	health   *health.Server
	http     *http.Server
	grpcLis  net.Listener
	httpLis  net.Listener
	grpcTLS  *tls.Config // nil without --tls-cert (tls.go)
	httpTLS  *tls.Config
	pprof    *http.Server // nil unless --pprof-addr
	pprofLis net.Listener
	stopping atomic.Bool // set when the server starts to stop: not ready any more
	rev      revocation  // webhooks and the revocation stream (revocation.go)

	// drain ends when the server stops: open streams (health watches,
	// WatchSession) end then with Unavailable, so that GracefulStop need
	// not wait for them.
	drain    context.Context
	drainNow context.CancelFunc

	// firstReady is closed when the health status first turns SERVING.
	firstReady chan struct{}
}

// newServer validates cfg, opens the listeners, and builds the validator
// and both servers. A configuration error is a *usageError.
func newServer(cfg serveConfig, log *slog.Logger, h hooks) (_ *server, err error) {
	hcfg, err := cfg.hankoConfig(log)
	if err != nil {
		return nil, err
	}
	if err := cfg.outageConfig(&hcfg); err != nil {
		return nil, err
	}
	s := &server{cfg: cfg, log: log, hooks: h, firstReady: make(chan struct{})}
	s.drain, s.drainNow = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if err := cfg.limitsConfig.check(); err != nil {
		return nil, err
	}
	if err := cfg.tlsConfig.check(); err != nil {
		return nil, err
	}
	// Listen first: an address in use fails before anything starts.
	if s.grpcLis, err = net.Listen("tcp", cfg.grpcAddr); err != nil {
		return nil, fmt.Errorf("--grpc-addr: %w", err)
	}
	if s.httpLis, err = net.Listen("tcp", cfg.httpAddr); err != nil {
		return nil, fmt.Errorf("--http-addr: %w", err)
	}
	if cfg.tlsConfig.enabled() {
		if s.grpcTLS, s.httpTLS, err = cfg.serverTLS(log); err != nil {
			return nil, &usageError{msg: err.Error()}
		}
		s.httpLis = tls.NewListener(s.httpLis, s.httpTLS)
	}
	if err := cfg.revocation.apply(&hcfg); err != nil {
		return nil, err
	}
	if cfg.pprofAddr != "" {
		if s.pprof, s.pprofLis, err = pprofServer(cfg.pprofAddr); err != nil {
			return nil, err
		}
	}
	hcfg.Hooks = h.Validator
	if h.HankoTransport != nil {
		if hcfg.HTTPClient, err = cfg.hankoHTTPClient(h.HankoTransport); err != nil {
			return nil, err
		}
	}
	if s.v, err = hankoauth.New(hcfg); err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	if h.ValidatorCreated != nil {
		h.ValidatorCreated(s.v)
	}
	if err := s.setupRevocation(); err != nil {
		return nil, err
	}
	if err := s.build(); err != nil {
		return nil, err
	}
	warnPlainHanko(log, cfg.hankoURL)
	return s, nil
}

// build creates the gRPC and HTTP servers. An invalid option of the
// interceptor or the ext_authz server (public methods and paths, header
// names) is a usage error.
func (s *server) build() error {
	cfg := s.cfg
	// One line per denial, but not more than --denial-log-rate a second.
	edgeLog := limitLog(s.log, cfg.denialLogRate)
	iopts := []interceptor.Option{
		interceptor.WithPublicMethods(alwaysPublic...),
		interceptor.WithPublicMethods(cfg.publicMethods...),
		interceptor.WithCookieName(cfg.cookieName),
		interceptor.WithLogger(edgeLog),
	}
	aopts, err := cfg.extauthzOptions()
	if err != nil {
		return err
	}
	aopts = append(aopts, extauthz.WithLogger(edgeLog))
	if s.hooks.Decision != nil {
		iopts = append(iopts, interceptor.WithDecisionHook(s.hooks.Decision))
		aopts = append(aopts, extauthz.WithDecisionHook(s.hooks.Decision))
	}
	authz, err := extauthz.NewServer(s.v, aopts...)
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	authn, err := interceptor.New(s.v, iopts...)
	if err != nil {
		return &usageError{msg: err.Error()}
	}

	opts := append([]grpc.ServerOption{
		// Calls run on a pool of goroutines whose stacks have grown
		// already, not each on a new goroutine that grows its stack
		// through the interceptors again.
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))),
		grpc.ChainUnaryInterceptor(slices.Concat(s.hooks.UnaryInterceptors, []grpc.UnaryServerInterceptor{authn.Unary()})...),
		grpc.ChainStreamInterceptor(slices.Concat(s.hooks.StreamInterceptors, []grpc.StreamServerInterceptor{s.drainStream, authn.Stream()})...),
	}, s.hooks.GRPCOptions...)
	opts = append(opts, cfg.limitsConfig.grpcOptions()...)
	if s.grpcTLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.grpcTLS)))
	}
	s.grpc = grpc.NewServer(opts...)
	sessionservice.New(s.v, sessionservice.WithCookieName(cfg.cookieName), sessionservice.WithLogger(edgeLog)).Register(s.grpc)
	authz.Register(s.grpc)
	s.health = health.NewServer()
	for _, svc := range healthServices {
		s.health.SetServingStatus(svc, healthpb.HealthCheckResponse_NOT_SERVING)
	}
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	if s.hooks.GRPCRegistered != nil {
		s.hooks.GRPCRegistered(s.grpc)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !s.ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready")
			return
		}
		fmt.Fprintln(w, "ok")
		if line := s.revocationStatus(); line != "" {
			fmt.Fprintln(w, line)
		}
		if o := s.v.Outage(); o.Degraded() {
			// Still ready: the outage policy decides, and says so.
			fmt.Fprintln(w, degradedText(o))
		}
	})
	var ah http.Handler = authz.ProxyHandler(cfg.limitsConfig.proxy(), "/authz")
	if s.hooks.WrapAuthz != nil {
		ah = s.hooks.WrapAuthz(ah)
	}
	mux.Handle("/authz", ah)
	mux.Handle("/authz/", ah)
	s.routeWebhooks(mux)
	if s.hooks.HTTPRoutes != nil {
		s.hooks.HTTPRoutes(mux)
	}
	s.http = cfg.limitsConfig.httpServer(authzRaw(ah, mux), s.log)
	return nil
}

// ready reports whether the server takes traffic: the validator can judge
// tokens and the server is not stopping.
func (s *server) ready() bool {
	return !s.stopping.Load() && s.v.Ready() == nil && s.revocationReady()
}

// serve runs the servers until ctx ends or one of them fails, then stops
// gracefully. It returns nil after a stop that ctx asked for.
func (s *server) serve(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() {
		if err := s.grpc.Serve(s.grpcLis); err != nil {
			errc <- fmt.Errorf("grpc server: %w", err)
		}
	}()
	go func() {
		if err := s.http.Serve(s.httpLis); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
		}
	}()
	if s.pprof != nil {
		go s.pprof.Serve(s.pprofLis) // ends when close closes the listener
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		s.watchReadiness(watchCtx)
	}()
	// Say once why the server is not ready yet, if it is not soon.
	notReady := time.AfterFunc(5*time.Second, func() {
		if err := s.v.Ready(); err != nil && watchCtx.Err() == nil {
			s.log.Warn("hanko-authz not ready yet", slog.String("error", err.Error()))
		}
	})
	defer notReady.Stop()
	s.log.Info("hanko-authz serving",
		slog.String("grpc_addr", s.grpcLis.Addr().String()),
		slog.String("http_addr", s.httpLis.Addr().String()),
		slog.String("hanko_url", s.cfg.hankoURL),
		slog.String("mode", s.v.Mode().String()),
		slog.String("hanko_outage", s.v.Outage().Policy.String()))

	var err error
	select {
	case <-ctx.Done():
		s.log.Info("hanko-authz stopping")
	case err = <-errc:
		s.log.Error("hanko-authz failed, stopping", slog.String("error", err.Error()))
	}
	stopWatch()
	<-watched
	s.shutdown()
	return err
}

// watchReadiness turns the health status SERVING once the validator is
// ready (Validator.WaitReady), or returns when ctx ends first. A ready
// validator stays ready; stopping turns the status NOT_SERVING again
// (shutdown).
func (s *server) watchReadiness(ctx context.Context) {
	if err := s.v.WaitReady(ctx); err != nil || !s.waitRevocationReady(ctx) {
		return
	}
	s.log.Info("hanko-authz ready")
	for _, svc := range healthServices {
		s.health.SetServingStatus(svc, healthpb.HealthCheckResponse_SERVING)
	}
	close(s.firstReady)
}

// shutdown stops the server: it stops being ready, lets open calls finish
// for at most the shutdown timeout, and releases everything.
func (s *server) shutdown() {
	s.stopping.Store(true)
	s.health.Shutdown() // NOT_SERVING for every service
	s.drainNow()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.shutdownTimeout)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	if err := s.http.Shutdown(ctx); err != nil {
		s.log.Warn("http server did not stop in time", slog.String("error", err.Error()))
		s.http.Close()
	}
	select {
	case <-stopped:
	case <-ctx.Done():
		s.log.Warn("grpc server did not stop in time: closing open calls", slog.Duration("timeout", s.cfg.shutdownTimeout))
		s.grpc.Stop()
		<-stopped
	}
	s.close()
	s.log.Info("hanko-authz stopped")
}

// drainStream is a stream interceptor that ends the stream with
// Unavailable when the server stops: streams last as long as their
// clients want, longer than a graceful stop may wait.
func (s *server) drainStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, cancel := context.WithCancel(ss.Context())
	defer cancel()
	stop := context.AfterFunc(s.drain, cancel)
	defer stop()
	outer := ss.Context()
	w := middleware.WrapServerStream(ss)
	w.WrappedContext = ctx
	err := handler(srv, w)
	if err != nil && s.drain.Err() != nil && outer.Err() == nil {
		return status.Error(codes.Unavailable, "server is shutting down")
	}
	return err
}

// close releases the validator, the listeners and the hooks.
func (s *server) close() {
	s.drainNow()
	if s.grpc != nil {
		s.grpc.Stop() // ends its stream workers, also when it never served
	}
	s.closeRevocation()
	if s.v != nil {
		s.v.Close()
	}
	if s.pprof != nil {
		s.pprof.Close()
	}
	for _, l := range []net.Listener{s.grpcLis, s.httpLis, s.pprofLis} {
		if l != nil {
			l.Close()
		}
	}
	if s.hooks.Shutdown != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.hooks.Shutdown(ctx); err != nil {
			s.log.Warn("observability shutdown failed", slog.String("error", err.Error()))
		}
	}
}

// degradedText is the line of /readyz that says Hanko cannot be asked.
func degradedText(o hankoauth.OutageStatus) string {
	var what string
	switch o.Policy {
	case hankoauth.OutageStale:
		what = fmt.Sprintf("sessions Hanko confirmed within %v keep working, new ones are denied", o.Grace)
	case hankoauth.OutageLocal:
		what = "every token that verifies locally passes, blind to revocation"
	default:
		what = "sessions Hanko cannot confirm are denied"
	}
	return fmt.Sprintf("degraded: hanko unreachable since %s; --hanko-outage %s: %s",
		o.Since.UTC().Format(time.RFC3339), o.Policy, what)
}
