package interceptor

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
)

// clock is a fake clock for the validator: real time plus an offset that
// tests advance, so that tokens minted by hankotest with the real clock
// stay consistent with it.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// newValidator returns a validator for h, ready (JWKS loaded), with a fake
// clock.
func newValidator(tb testing.TB, h *hankotest.Server, mode hankoauth.Mode) (*hankoauth.Validator, *clock) {
	tb.Helper()
	c := &clock{}
	v, err := hankoauth.New(hankoauth.Config{
		APIURL:          h.URL,
		Mode:            mode,
		RevalidateAfter: time.Second,
		RequestTimeout:  2 * time.Second,
		Now:             c.Now,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { v.Close() })
	if mode != hankoauth.ModeRemote {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := v.WaitReady(ctx); err != nil {
			tb.Fatalf("validator not ready: %v", err)
		}
	}
	return v, c
}

// testService implements grpc.testing.TestService: UnaryCall answers with
// the session's user id as Username (or the next hop's answer), and
// StreamingOutputCall sends the user id every 20 ms until its context
// ends, or once per ResponseParameters entry.
type testService struct {
	testpb.UnimplementedTestServiceServer
	next testpb.TestServiceClient // when set, UnaryCall asks it
}

func (s *testService) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if s.next != nil {
		return s.next.UnaryCall(ctx, req)
	}
	resp := &testpb.SimpleResponse{}
	if sess, ok := hankoauth.FromContext(ctx); ok {
		resp.Username = sess.UserID
	}
	return resp, nil
}

func (s *testService) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	return &testpb.Empty{}, nil
}

func (s *testService) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, stream testpb.TestService_StreamingOutputCallServer) error {
	ctx := stream.Context()
	user := "anonymous"
	if sess, ok := hankoauth.FromContext(ctx); ok {
		user = sess.UserID
	}
	if len(req.ResponseParameters) > 0 {
		// A finite stream: one message per parameter, after its
		// interval.
		for _, p := range req.ResponseParameters {
			time.Sleep(time.Duration(p.IntervalUs) * time.Microsecond)
			if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: []byte(user)}}); err != nil {
				return err
			}
		}
		return nil
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: []byte(user)}}); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			// Like most handlers: return the context's error, which
			// the interceptor must turn into the session's status.
			return ctx.Err()
		case <-t.C:
		}
	}
}

// serve starts a gRPC server on bufconn with the test and health services
// and returns a client connection to it.
func serve(tb testing.TB, svc *testService, opts ...grpc.ServerOption) *grpc.ClientConn {
	tb.Helper()
	return serveDial(tb, svc, opts)
}

// serveDial is serve with options for the client connection.
func serveDial(tb testing.TB, svc *testService, opts []grpc.ServerOption, dialOpts ...grpc.DialOption) *grpc.ClientConn {
	tb.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(opts...)
	if svc == nil {
		svc = &testService{}
	}
	testpb.RegisterTestServiceServer(srv, svc)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	conn, err := grpc.NewClient("passthrough:///bufnet", append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, dialOpts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		conn.Close()
		srv.Stop()
	})
	return conn
}

// serverOpts returns the server options that install both interceptors.
func serverOpts(v *hankoauth.Validator, opts ...Option) []grpc.ServerOption {
	i := mustNew(v, opts...)
	return []grpc.ServerOption{grpc.UnaryInterceptor(i.Unary()), grpc.StreamInterceptor(i.Stream())}
}

// mustNew is New, for options that are valid.
func mustNew(v *hankoauth.Validator, opts ...Option) *Interceptor {
	i, err := New(v, opts...)
	if err != nil {
		panic(err)
	}
	return i
}

// errorInfo returns the reason of err's ErrorInfo detail in domain
// "hanko", or "".
func errorInfo(err error) string {
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok && ei.Domain == hankoauth.ErrorInfoDomain {
			return ei.Reason
		}
	}
	return ""
}

// checkStatus checks err's code, message and ErrorInfo reason, and that
// none of the secrets appears in the message.
func checkStatus(tb testing.TB, err error, code codes.Code, msg string, reason hankoauth.Reason, secrets ...string) {
	tb.Helper()
	st, ok := status.FromError(err)
	if !ok {
		tb.Fatalf("error %v is not a status", err)
	}
	if st.Code() != code || st.Message() != msg {
		tb.Errorf("status = %v %q, want %v %q", st.Code(), st.Message(), code, msg)
	}
	if got := errorInfo(err); got != string(reason) {
		tb.Errorf("ErrorInfo reason = %q, want %q", got, reason)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(st.Message(), s) {
			tb.Errorf("status message %q contains a secret", st.Message())
		}
	}
}

// logBuffer is a concurrency-safe buffer for a test logger.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// decisions records the decisions of a hook.
type decisions struct {
	mu  sync.Mutex
	all []hankoauth.Decision
}

func (d *decisions) hook(_ context.Context, x hankoauth.Decision) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.all = append(d.all, x)
}

func (d *decisions) list() []hankoauth.Decision {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]hankoauth.Decision(nil), d.all...)
}
