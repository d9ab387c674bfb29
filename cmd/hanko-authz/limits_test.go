package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/hankoauth/hankoauth/hankotest"
)

// startServer runs serve against a fake Hanko with args added to loopback
// listen addresses, until the test ends, and waits until it is ready.
func startServer(t *testing.T, hankoURL string, args ...string) *server {
	t.Helper()
	if hankoURL == "" {
		h := hankotest.NewServer()
		t.Cleanup(h.Close)
		hankoURL = h.URL
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg serveConfig
	addServeFlags(fs, &cfg, true, "")
	base := []string{"--hanko-url", hankoURL, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-level", "error"}
	if err := parseArgs(fs, append(base, args...), noEnv); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	srv, err := newServer(cfg, cfg.logger(&logs), hooks{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	})
	select {
	case <-srv.firstReady:
	case <-time.After(10 * time.Second):
		t.Fatalf("server not ready; logs:\n%s", logs.String())
	}
	return srv
}

// h2Conn is a raw HTTP/2 client connection, for sending what no gRPC
// client would.
type h2Conn struct {
	net.Conn
	fr  *http2.Framer
	enc *hpack.Encoder
	buf bytes.Buffer
}

func dialH2(t *testing.T, addr string) *h2Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	c := &h2Conn{Conn: conn, fr: http2.NewFramer(conn, conn)}
	c.enc = hpack.NewEncoder(&c.buf)
	if err := c.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return c
}

// untilPingAck reads frames (answering the server's SETTINGS) until the
// ACK of a ping it sends: the server has then read every frame before.
// It reports the RST_STREAMs and GOAWAYs seen.
func (c *h2Conn) untilPingAck(t *testing.T) (resets int) {
	t.Helper()
	data := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	if err := c.fr.WritePing(false, data); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading frames: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = c.fr.WriteSettingsAck()
			}
		case *http2.RSTStreamFrame:
			resets++
		case *http2.PingFrame:
			if f.IsAck() && f.Data == data {
				return resets
			}
		}
	}
}

// TestGRPCHeaderAmplification replays the amplification attack: public
// Health/Watch streams whose metadata is one HPACK-indexed "-bin" header
// repeated thousands of times, about 12 MB decoded (base64-decoded into a
// fresh copy each) for 10 KB on the wire. With grpc-go's defaults (16 MiB
// header lists) six such streams grew the process by tens of MiB; with
// the limits the streams are refused and the heap stays within 16 MiB of
// where it was.
func TestGRPCHeaderAmplification(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	srv := startServer(t, "")
	const streams = 6
	value := base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{0xab}, 3000))
	c := dialH2(t, srv.grpcLis.Addr().String())
	c.untilPingAck(t)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range streams {
		c.buf.Reset()
		for _, f := range [][2]string{
			{":method", "POST"}, {":scheme", "http"}, {":path", "/grpc.health.v1.Health/Watch"},
			{":authority", "hanko-authz"}, {"content-type", "application/grpc"}, {"te", "trailers"},
		} {
			_ = c.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		for range 3000 { // indexed after the first: one or two bytes each
			_ = c.enc.WriteField(hpack.HeaderField{Name: "x-amp-bin", Value: value})
		}
		// Split into frames the server accepts (16 KiB by default).
		block := c.buf.Bytes()
		id := uint32(2*i + 1)
		first := true
		for len(block) > 0 || first {
			n := min(len(block), 16<<10)
			var err error
			if first {
				err = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block[:n], EndHeaders: n == len(block)})
				first = false
			} else {
				err = c.fr.WriteContinuation(id, n == len(block), block[:n])
			}
			if err != nil {
				t.Fatal(err)
			}
			block = block[n:]
		}
		// An empty HealthCheckRequest; the stream stays open.
		if err := c.fr.WriteData(id, false, []byte{0, 0, 0, 0, 0}); err != nil {
			t.Fatal(err)
		}
	}
	resets := c.untilPingAck(t)
	time.Sleep(200 * time.Millisecond) // handlers start
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("%d streams, %d reset by the server, heap grew by %.1f MiB", streams, resets, float64(grown)/(1<<20))
	const bound = 16 << 20
	if grown > bound {
		t.Errorf("heap grew by %.1f MiB, bound %d MiB", float64(grown)/(1<<20), bound>>20)
	}
	if resets != streams {
		t.Errorf("%d of %d oversized streams reset", resets, streams)
	}
}

// TestGRPCIdleConnectionsClosed: a connection with no calls is closed
// after --grpc-max-connection-idle, and one that never finishes the
// HTTP/2 handshake after --grpc-connection-timeout; grpc-go keeps both
// forever (or 120 s) by default.
func TestGRPCIdleConnectionsClosed(t *testing.T) {
	srv := startServer(t, "", "--grpc-max-connection-idle", "300ms", "--grpc-connection-timeout", "300ms")
	addr := srv.grpcLis.Addr().String()

	idle := dialH2(t, addr)
	idle.untilPingAck(t)
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	for name, conn := range map[string]net.Conn{"idle": idle.Conn, "silent": silent} {
		start := time.Now()
		// grpc-go drains an idle connection with a GOAWAY and a ping, and
		// closes it at the ack or, from a client that never answers, 5 s
		// later.
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.Copy(io.Discard, conn) // until the server closes it
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s connection still open after %v", name, time.Since(start).Round(time.Millisecond))
			continue
		}
		t.Logf("%s connection closed after %v", name, time.Since(start).Round(time.Millisecond))
	}
}

// TestHTTPSlowClients: clients that trickle a request body (or headers)
// are disconnected once --http-read-timeout has passed; before, 20 of 20
// were still connected after 35 s.
func TestHTTPSlowClients(t *testing.T) {
	srv := startServer(t, "", "--http-read-timeout", "500ms")
	addr := srv.httpLis.Addr().String()
	type client struct {
		name  string
		start string // sent at once
	}
	clients := []client{
		{"trickled body", "POST /authz/api HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"},
		{"trickled body, healthz", "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"},
		{"trickled headers", "GET /authz/api HTTP/1.1\r\nHost: x\r\n"},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, c.start); err != nil {
				t.Fatal(err)
			}
			closed := make(chan struct{})
			go func() {
				defer close(closed)
				_, _ = io.Copy(io.Discard, bufio.NewReader(conn))
			}()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			deadline := time.After(5 * time.Second)
			for i := 0; ; i++ {
				select {
				case <-closed:
					return
				case <-deadline:
					t.Fatal("still connected after 5 s")
				case <-tick.C:
					b := "x"
					if strings.HasPrefix(c.name, "trickled headers") {
						b = fmt.Sprintf("X-%d: y\r\n", i)
					}
					_, _ = io.WriteString(conn, b)
				}
			}
		})
	}
}

func TestLimitFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--grpc-max-header-list-size", "0"},
		{"--grpc-max-concurrent-streams", "-1"},
		{"--http-read-timeout", "0s"},
		{"--grpc-max-connection-idle", "-1s"},
		{"--tls-cert", "x.pem"},
		{"--tls-client-ca", "ca.pem"},
		{"--authz-http-proxy", "apache"},
	} {
		code, _, stderr := runCLI(t, nil, "", append([]string{"serve", "--hanko-url", "http://127.0.0.1:1"}, args...)...)
		if code != exitUsage || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d and one line", args, code, stderr, exitUsage)
		}
	}
}

// TestAuthzPathsNotCleaned: a path under /authz reaches the ext_authz
// handler as sent: "//public/x" is a 401, not a redirect to /public/x
// that a client (or proxy) following it would get allowed.
func TestAuthzPathsNotCleaned(t *testing.T) {
	srv := startServer(t, "", "--public-paths", "/public/")
	base := "http://" + srv.httpLis.Addr().String()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]int{
		"/authz/public/x":            http.StatusOK,
		"/authz//public/x":           http.StatusUnauthorized,
		"/authz/public/../admin":     http.StatusUnauthorized,
		"/authz/x/../public/x":       http.StatusUnauthorized,
		"/authz/public/%C0%AE%C0%AE": http.StatusUnauthorized,
		"/healthz":                   http.StatusOK,
	} {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = path // sent exactly as written
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}
