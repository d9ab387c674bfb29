package sessionservice_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/hankoauth/hankoauth"
	hankoauthv1 "github.com/hankoauth/hankoauth/gen/hankoauth/v1"
	"github.com/hankoauth/hankoauth/hankotest"
	"github.com/hankoauth/hankoauth/interceptor"
	"github.com/hankoauth/hankoauth/sessionservice"
)

// clock is real time plus an offset that tests advance.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// newValidator returns a ready hybrid validator for h.
func newValidator(tb testing.TB, h *hankotest.Server, revalidate time.Duration, now func() time.Time) *hankoauth.Validator {
	tb.Helper()
	v, err := hankoauth.New(hankoauth.Config{
		APIURL:          h.URL,
		RevalidateAfter: revalidate,
		RequestTimeout:  2 * time.Second,
		Now:             now,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { v.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		tb.Fatalf("validator not ready: %v", err)
	}
	return v
}

// setup is a fake Hanko, a validator and the service behind the real
// interceptors on bufconn.
type setup struct {
	hanko  *hankotest.Server
	v      *hankoauth.Validator
	client hankoauthv1.SessionServiceClient
}

type setupConfig struct {
	revalidate time.Duration           // validator's RevalidateAfter; default 1 min
	now        func() time.Time        // validator's clock; default time.Now
	opts       []sessionservice.Option // service options
	hankoOpts  []hankotest.Option      // fake Hanko options
	icptOpts   []interceptor.Option    // interceptor options
}

func newSetup(tb testing.TB, cfg setupConfig) *setup {
	tb.Helper()
	if cfg.revalidate == 0 {
		cfg.revalidate = time.Minute
	}
	h := hankotest.NewServer(cfg.hankoOpts...)
	tb.Cleanup(h.Close)
	v := newValidator(tb, h, cfg.revalidate, cfg.now)
	authn, err := interceptor.New(v, cfg.icptOpts...)
	if err != nil {
		tb.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(authn.Unary()),
		grpc.StreamInterceptor(authn.Stream()),
	)
	sessionservice.New(v, cfg.opts...).Register(srv)
	lis := bufconn.Listen(1 << 20)
	go srv.Serve(lis)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		conn.Close()
		srv.Stop()
	})
	return &setup{hanko: h, v: v, client: hankoauthv1.NewSessionServiceClient(conn)}
}

// bearer returns a context whose outgoing metadata carries token as a
// bearer token, with a timeout.
func bearer(tb testing.TB, token string) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	tb.Cleanup(cancel)
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// checkStatus checks err's code and the reason of its ErrorInfo detail.
func checkStatus(tb testing.TB, err error, code codes.Code, reason hankoauth.Reason) {
	tb.Helper()
	st, ok := status.FromError(err)
	if !ok {
		tb.Fatalf("error %v is not a status", err)
	}
	var got string
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok && ei.Domain == hankoauth.ErrorInfoDomain {
			got = ei.Reason
		}
	}
	if st.Code() != code || got != string(reason) {
		tb.Errorf("status = %v (reason %q), want %v (reason %q)", st.Code(), got, code, reason)
	}
}
