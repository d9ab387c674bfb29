package interceptor

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
)

// BenchmarkUnaryInterceptor measures a unary call over bufconn without
// interceptor and through the Interceptor with a cached session.
// The interceptor sub-benchmark also reports what the interceptor adds,
// as added-ns/op and added-allocs/op: the median difference of paired,
// interleaved blocks of calls without and with it (not timed), which
// holds up on a noisy machine where two separate runs do not.
func BenchmarkUnaryInterceptor(b *testing.B) {
	h := hankotest.NewServer()
	defer h.Close()
	v, _ := newValidator(b, h, hankoauth.ModeHybrid)
	m := h.MustMint(b, hankotest.Session{Email: "a@example.com"})
	// A realistic request: the token and a few other headers.
	ctx := metadata.AppendToOutgoingContext(context.Background(),
		"authorization", "Bearer "+m.Token, "x-request-id", "0123456789abcdef", "accept-language", "en")
	plain := testpb.NewTestServiceClient(serve(b, nil))
	guarded := testpb.NewTestServiceClient(serve(b, nil, serverOpts(v)...))
	call := func(b *testing.B, c testpb.TestServiceClient) {
		if _, err := c.EmptyCall(ctx, &testpb.Empty{}); err != nil {
			b.Fatal(err)
		}
	}
	call(b, plain)
	call(b, guarded) // caches the session

	run := func(b *testing.B, c testpb.TestServiceClient) {
		b.ReportAllocs()
		for b.Loop() {
			call(b, c)
		}
	}
	b.Run("baseline", func(b *testing.B) { run(b, plain) })
	b.Run("interceptor", func(b *testing.B) {
		run(b, guarded)
		ns, allocs := pairedCost(b, func() { call(b, plain) }, func() { call(b, guarded) })
		b.ReportMetric(ns, "added-ns/op")
		b.ReportMetric(allocs, "added-allocs/op")
	})
}

// pairedCost runs blocks of base and of with, interleaved, and returns the
// median extra time and allocations per call of with.
func pairedCost(b *testing.B, base, with func()) (ns, allocs float64) {
	b.StopTimer()
	defer b.StartTimer()
	const blocks, calls = 21, 100
	block := func(f func()) (time.Duration, uint64) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		for range calls {
			f()
		}
		d := time.Since(start)
		runtime.ReadMemStats(&after)
		return d, after.Mallocs - before.Mallocs
	}
	var dns, dallocs []float64
	for range blocks {
		t0, a0 := block(base)
		t1, a1 := block(with)
		dns = append(dns, float64(t1-t0)/calls)
		dallocs = append(dallocs, (float64(a1)-float64(a0))/calls)
	}
	slices.Sort(dns)
	slices.Sort(dallocs)
	return dns[blocks/2], dallocs[blocks/2]
}

// BenchmarkAuthenticate measures the interceptor alone, without gRPC: the
// cost it adds to every call with a cached session.
func BenchmarkAuthenticate(b *testing.B) {
	h := hankotest.NewServer()
	defer h.Close()
	v, _ := newValidator(b, h, hankoauth.ModeHybrid)
	m := h.MustMint(b, hankotest.Session{})
	unary := mustNew(v).Unary()
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
