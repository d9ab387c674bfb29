package interceptor

import (
	"context"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
)

// openStream starts StreamingOutputCall with token as a bearer token; the
// stream ends with ctx.
func openStream(t *testing.T, ctx context.Context, client testpb.TestServiceClient, token string) testpb.TestService_StreamingOutputCallClient {
	t.Helper()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	stream, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return stream
}

// recvUntil receives until the stream fails or d has passed, and returns
// the number of messages and the error (nil if the stream was still up).
func recvUntil(stream testpb.TestService_StreamingOutputCallClient, d time.Duration) (int, error) {
	deadline := time.Now().Add(d)
	n := 0
	for time.Now().Before(deadline) {
		if _, err := stream.Recv(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func TestStreamSession(t *testing.T) {
	h := hankotest.NewServer()
	defer h.Close()
	v, _ := newValidator(t, h, hankoauth.ModeHybrid)
	client := testpb.NewTestServiceClient(serve(t, nil, serverOpts(v)...))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	m := h.MustMint(t, hankotest.Session{})
	msg, err := openStream(t, ctx, client, m.Token).Recv()
	if err != nil || string(msg.GetPayload().GetBody()) != m.UserID {
		t.Fatalf("Recv = %v, %v; want the user id %s", msg, err, m.UserID)
	}

	_, err = openStream(t, ctx, client, "garbage").Recv()
	checkStatus(t, err, codes.Unauthenticated, "invalid session", hankoauth.ReasonTokenMalformed, "garbage")

	stream, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	checkStatus(t, err, codes.Unauthenticated, "missing session token", hankoauth.ReasonTokenMissing)
}

// TestStreamExpiry uses tokens that expire in about 2 s and a real clock.
func TestStreamExpiry(t *testing.T) {
	h := hankotest.NewServer()
	t.Cleanup(h.Close) // after the parallel subtests
	tests := []struct {
		name string
		opts []Option
		idle time.Duration // Hanko's idle timeout
		// wantEnd: the stream ends with SESSION_EXPIRED; otherwise it
		// outlives the session's expiry.
		wantEnd bool
	}{
		{name: "ends at expiry", wantEnd: true},
		{name: "expiry watching off", opts: []Option{WithStreamExpiry(false)}},
		{name: "ends at idle expiry", idle: time.Second, opts: []Option{WithStreamRecheck(0)}, wantEnd: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := h
			lifetime := 2 * time.Second
			if tt.idle > 0 {
				// An own Hanko: the idle timeout is server-wide.
				h = hankotest.NewServer(hankotest.WithIdleTimeout(tt.idle))
				defer h.Close()
				lifetime = time.Hour
			}
			v, _ := newValidator(t, h, hankoauth.ModeHybrid)
			var ds decisions
			opts := append([]Option{WithLogger(newLogger(&logBuffer{})), WithDecisionHook(ds.hook)}, tt.opts...)
			client := testpb.NewTestServiceClient(serve(t, nil, serverOpts(v, opts...)...))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()

			m := h.MustMint(t, hankotest.Session{Lifetime: lifetime})
			end := m.ExpiresAt
			if tt.idle > 0 {
				end = time.Now().Add(tt.idle)
			}
			stream := openStream(t, ctx, client, m.Token)
			n, err := recvUntil(stream, time.Until(end)+2*time.Second)
			if n == 0 {
				t.Errorf("no message before the end (err %v)", err)
			}
			if !tt.wantEnd {
				if err != nil {
					t.Fatalf("stream ended: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("stream outlived its session")
			}
			checkStatus(t, err, codes.Unauthenticated, "session expired", hankoauth.ReasonExpired, m.Token)
			if late := time.Since(end); late < -time.Second || late > 1500*time.Millisecond {
				t.Errorf("stream ended %v after the session's end", late)
			}
			d := ds.list()
			if len(d) != 2 || d[1].Result != "deny" || d[1].Reason != hankoauth.ReasonExpired {
				t.Errorf("decisions = %+v, want allow then deny SESSION_EXPIRED", d)
			}
		})
	}
}

// TestStreamRecheck revokes the session of an open stream.
func TestStreamRecheck(t *testing.T) {
	h := hankotest.NewServer()
	defer h.Close()
	for _, tt := range []struct {
		mode    hankoauth.Mode
		recheck time.Duration
		reason  hankoauth.Reason // "" if the stream must stay up
	}{
		{hankoauth.ModeHybrid, 20 * time.Millisecond, hankoauth.ReasonRevoked},
		{hankoauth.ModeRemote, 20 * time.Millisecond, hankoauth.ReasonRejected},
		{hankoauth.ModeHybrid, 0, ""},
		{hankoauth.ModeLocal, 20 * time.Millisecond, ""}, // blind to revocation
	} {
		t.Run(tt.mode.String()+"/"+tt.recheck.String(), func(t *testing.T) {
			v, clk := newValidator(t, h, tt.mode)
			client := testpb.NewTestServiceClient(serve(t, nil, serverOpts(v, WithStreamRecheck(tt.recheck), WithLogger(newLogger(&logBuffer{})))...))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()

			m := h.MustMint(t, hankotest.Session{})
			stream := openStream(t, ctx, client, m.Token)
			if _, err := recvUntil(stream, 100*time.Millisecond); err != nil {
				t.Fatalf("before revocation: %v", err)
			}
			h.Revoke(m.SessionID)
			clk.Advance(2 * time.Second) // past RevalidateAfter
			wait := 2 * time.Second
			if tt.reason == "" {
				wait = 500 * time.Millisecond // 25 re-checks
			}
			_, err := recvUntil(stream, wait)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("stream ended: %v", err)
				}
				return
			}
			checkStatus(t, err, codes.Unauthenticated, "invalid session", tt.reason, m.Token)
		})
	}
}

// TestStreamRecheckHankoDown: a re-check that cannot reach Hanko keeps
// the stream.
func TestStreamRecheckHankoDown(t *testing.T) {
	h := hankotest.NewServer()
	defer h.Close()
	v, clk := newValidator(t, h, hankoauth.ModeHybrid)
	var logs logBuffer
	client := testpb.NewTestServiceClient(serve(t, nil, serverOpts(v, WithStreamRecheck(20*time.Millisecond), WithLogger(newLogger(&logs)))...))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	m := h.MustMint(t, hankotest.Session{})
	stream := openStream(t, ctx, client, m.Token)
	if _, err := stream.Recv(); err != nil { // authenticated
		t.Fatal(err)
	}
	h.Fail(hankotest.EndpointValidate, hankotest.Failure{Status: 503})
	defer h.ClearFailures()
	clk.Advance(2 * time.Second)
	if _, err := recvUntil(stream, 500*time.Millisecond); err != nil {
		t.Fatalf("stream ended while Hanko was down: %v", err)
	}
	if !strings.Contains(logs.String(), "re-check failed") {
		t.Errorf("failed re-checks not logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), m.Token) {
		t.Error("log contains the token")
	}
}

// watchers counts the running stream watchers.
func watchers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "interceptor.(*Interceptor).watch(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestStreamWatcherStops checks that no watcher outlives its stream,
// whether the client or the session ends it.
func TestStreamWatcherStops(t *testing.T) {
	h := hankotest.NewServer()
	defer h.Close()
	v, _ := newValidator(t, h, hankoauth.ModeHybrid)
	client := testpb.NewTestServiceClient(serve(t, nil, serverOpts(v, WithStreamRecheck(10*time.Millisecond), WithLogger(newLogger(&logBuffer{})))...))
	base := watchers()

	ctx, cancel := context.WithCancel(context.Background())
	const n = 20
	for range n {
		stream := openStream(t, ctx, client, h.MustMint(t, hankotest.Session{}).Token)
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	if got := watchers() - base; got != n {
		t.Errorf("%d watchers while %d streams are open", got, n)
	}
	cancel()

	// A session that ends on its own: its watcher returns too.
	m := h.MustMint(t, hankotest.Session{Lifetime: time.Second})
	_, err := recvUntil(openStream(t, context.Background(), client, m.Token), 5*time.Second)
	if err == nil {
		t.Error("stream outlived its session")
	}

	deadline := time.Now().Add(5 * time.Second)
	for watchers() != base {
		if time.Now().After(deadline) {
			t.Fatalf("%d watchers left after the streams ended", watchers()-base)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStreamEndsDuringRecheck: a handler that returns while a re-check
// waits for a slow Hanko is not held up by it.
func TestStreamEndsDuringRecheck(t *testing.T) {
	h := hankotest.NewServer()
	defer h.Close()
	v, clk := newValidator(t, h, hankoauth.ModeHybrid) // RequestTimeout 2 s
	client := testpb.NewTestServiceClient(serve(t, nil, serverOpts(v, WithStreamRecheck(10*time.Millisecond))...))
	m := h.MustMint(t, hankotest.Session{})
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+m.Token)

	start := time.Now()
	stream, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{
		ResponseParameters: []*testpb.ResponseParameters{{}, {IntervalUs: 300_000}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	h.Fail(hankotest.EndpointValidate, hankotest.Failure{Delay: 10 * time.Second})
	defer h.ClearFailures()
	clk.Advance(2 * time.Second) // the next re-check asks Hanko, and waits
	for {
		if _, err := stream.Recv(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("the stream took %v, held up by the re-check", d)
	}
}
