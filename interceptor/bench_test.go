package interceptor

import (
	"context"
	"runtime"
	"testing"
	"time"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
)

// BenchmarkUnaryInterceptor measures a unary call over bufconn without
// interceptor and through UnaryServerInterceptor with a cached session.
// The interceptor sub-benchmark reports what it adds to the baseline of
// the same run: added-ns/op and added-allocs/op.
func BenchmarkUnaryInterceptor(b *testing.B) {
	h := hankotest.NewServer()
	defer h.Close()
	v, _ := newValidator(b, h, hankoauth.ModeHybrid)
	m := h.MustMint(b, hankotest.Session{Email: "a@example.com"})
	// A realistic request: the token, a user agent, a few other headers.
	ctx := metadata.AppendToOutgoingContext(context.Background(),
		"authorization", "Bearer "+m.Token, "x-request-id", "0123456789abcdef", "accept-language", "en")

	var baseNs, baseAllocs float64
	run := func(b *testing.B, conn *grpc.ClientConn) (nsPerOp, allocsPerOp float64) {
		client := testpb.NewTestServiceClient(conn)
		if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil { // warm up, cache the session
			b.Fatal(err)
		}
		b.ReportAllocs()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		b.ResetTimer()
		for b.Loop() {
			if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		return float64(elapsed.Nanoseconds()) / float64(b.N), float64(after.Mallocs-before.Mallocs) / float64(b.N)
	}
	b.Run("baseline", func(b *testing.B) {
		baseNs, baseAllocs = run(b, serve(b, nil))
	})
	b.Run("interceptor", func(b *testing.B) {
		ns, allocs := run(b, serve(b, nil, serverOpts(v)...))
		if baseNs > 0 {
			b.ReportMetric(ns-baseNs, "added-ns/op")
			b.ReportMetric(allocs-baseAllocs, "added-allocs/op")
		}
	})
}

// BenchmarkAuthenticate measures the interceptor alone, without gRPC: the
// cost it adds to every call with a cached session.
func BenchmarkAuthenticate(b *testing.B) {
	h := hankotest.NewServer()
	defer h.Close()
	v, _ := newValidator(b, h, hankoauth.ModeHybrid)
	m := h.MustMint(b, hankotest.Session{})
	unary := UnaryServerInterceptor(v)
	info := &grpc.UnaryServerInfo{FullMethod: "/grpc.testing.TestService/EmptyCall"}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(
		"authorization", "Bearer "+m.Token, "user-agent", "grpc-go/1.85.0", "x-request-id", "0123456789abcdef",
		":authority", "bufnet", "content-type", "application/grpc"))
	handler := func(ctx context.Context, req any) (any, error) { return req, nil }
	if _, err := unary(ctx, nil, info, handler); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := unary(ctx, nil, info, handler); err != nil {
			b.Fatal(err)
		}
	}
}
