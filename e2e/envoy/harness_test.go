package envoy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/hankoauth/hankoauth/hankotest"
)

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// listenAgain listens on addr, retrying briefly while the port is still
// held by a listener that was just closed.
func listenAgain(t *testing.T, addr string) net.Listener {
	t.Helper()
	var err error
	for range 50 {
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err == nil {
			return l
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("listen %s: %v", addr, err)
	return nil
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// hanko is a fake Hanko on a fixed loopback address that can be stopped
// and started again on the same address, like a Hanko being restarted.
type hanko struct {
	*hankotest.Hanko
	addr, url string
	mu        sync.Mutex
	srv       *http.Server
	done      chan struct{}
}

func startHanko(t *testing.T, opts ...hankotest.Option) *hanko {
	t.Helper()
	hk, err := hankotest.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hanko{Hanko: hk, addr: l.Addr().String()}
	h.url = "http://" + h.addr
	h.serve(l)
	t.Cleanup(h.stop)
	return h
}

func (h *hanko) serve(l net.Listener) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.srv = &http.Server{Handler: h.Handler(), ReadHeaderTimeout: 5 * time.Second}
	h.done = make(chan struct{})
	srv, done := h.srv, h.done
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
}

// stop closes the listener and every connection.
func (h *hanko) stop() {
	h.mu.Lock()
	srv, done := h.srv, h.done
	h.srv = nil
	h.mu.Unlock()
	if srv != nil {
		srv.Close()
		<-done
	}
}

// restart serves again on the same address.
func (h *hanko) restart(t *testing.T) { h.serve(listenAgain(t, h.addr)) }

// mint mints a session with an email address.
func (h *hanko) mint(t *testing.T) hankotest.Minted {
	t.Helper()
	return h.MustMint(t, hankotest.Session{Email: "alice@example.com"})
}

// authz is a running "hanko-authz serve".
type authz struct {
	grpcAddr, httpAddr string
	args               []string
	mu                 sync.Mutex
	cmd                *exec.Cmd
	exited             chan struct{}
	stderr             *syncBuffer
	roots              *x509.CertPool // set when its HTTP listener serves TLS
}

// startAuthz runs the hanko-authz binary against Hanko at url, on free
// ports, with the extra flags, and waits until /readyz says ready.
func startAuthz(t *testing.T, url string, extra ...string) *authz {
	return startAuthzTLS(t, url, nil, extra...)
}

// startAuthzTLS is startAuthz for a hanko-authz whose HTTP listener serves
// TLS with a certificate of roots (nil: plain HTTP): it waits for
// https://.../readyz.
func startAuthzTLS(t *testing.T, url string, roots *x509.CertPool, extra ...string) *authz {
	t.Helper()
	a := &authz{grpcAddr: freeAddr(t), httpAddr: freeAddr(t), stderr: &syncBuffer{}, roots: roots}
	a.args = append([]string{"serve", "--hanko-url", url,
		"--grpc-addr", a.grpcAddr, "--http-addr", a.httpAddr,
		"--public-paths", "/public/,/healthz",
		"--revalidate-after", "1s", "--shutdown-timeout", "1s"}, extra...)
	t.Cleanup(func() {
		a.stop(t)
		if t.Failed() {
			t.Logf("hanko-authz stderr:\n%s", a.stderr)
		}
	})
	a.start(t)
	return a
}

func (a *authz) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(hankoAuthz, a.args...)
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = a.stderr, a.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	a.mu.Lock()
	a.cmd, a.exited = cmd, exited
	a.mu.Unlock()
	c, scheme := http.DefaultClient, "http://"
	if a.roots != nil {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: a.roots, MinVersion: tls.VersionTLS12}}
		defer tr.CloseIdleConnections()
		c, scheme = &http.Client{Transport: tr, Timeout: 5 * time.Second}, "https://"
	}
	waitHTTP(t, c, scheme+a.httpAddr+"/readyz", exited, "hanko-authz")
}

// stop sends SIGTERM (after SIGCONT, in case it was frozen) and waits.
func (a *authz) stop(t *testing.T) {
	a.mu.Lock()
	cmd, exited := a.cmd, a.exited
	a.cmd = nil
	a.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Errorf("hanko-authz did not exit within 10s of SIGTERM")
	}
}

// freeze stops the process with SIGSTOP and waits until every thread of
// it is stopped: it keeps its sockets and answers nothing.
func (a *authz) freeze(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	p := a.cmd.Process
	a.mu.Unlock()
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() string {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", p.Pid))
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			if err != nil {
				continue // the thread ended
			}
			// pid (comm) state ...: the state follows the last ')'.
			st := b[bytes.LastIndexByte(b, ')')+2:]
			if len(st) == 0 || st[0] != 'T' && st[0] != 't' {
				return fmt.Sprintf("thread %s is not stopped", f)
			}
		}
		if len(tasks) == 0 {
			return "no threads in /proc"
		}
		return ""
	})
}

// thaw continues a frozen process.
func (a *authz) thaw(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}

// cleanEnv is the environment without hanko-authz's own variables, so that
// the caller's shell does not configure the processes under test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HANKO_AUTHZ_") && !strings.HasPrefix(kv, "HANKO_API_URL=") {
			env = append(env, kv)
		}
	}
	return env
}

// waitHTTP polls url until it answers 200, failing the test when exited
// closes first or after 20s.
func waitHTTP(t *testing.T, c *http.Client, url string, exited <-chan struct{}, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			t.Fatalf("%s exited before %s answered 200", what, url)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s did not answer 200 within 20s (last error %v)", what, url, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// received is what the upstream got.
type received struct {
	Path   string
	Header http.Header
	GRPC   bool
}

// upstream is the application behind Envoy: on one port, HTTP/1.1 and
// cleartext HTTP/2, an echo handler that records every request, and for
// gRPC requests grpc.health.v1.Health (a unary and a server-streaming
// method).
type upstream struct {
	addr string
	mu   sync.Mutex
	got  []received
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	gs := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			isGRPC := r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc")
			u.mu.Lock()
			p, _, _ := strings.Cut(r.RequestURI, "?")
			u.got = append(u.got, received{Path: p, Header: r.Header.Clone(), GRPC: isGRPC})
			u.mu.Unlock()
			if isGRPC {
				gs.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "upstream %s", r.URL.Path)
		}),
	}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = l.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		hs.Shutdown()
		srv.Close()
		<-done
		gs.Stop()
	})
	return u
}

// byID returns what the upstream received with header x-test-id: id.
func (u *upstream) byID(id string) (received, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, r := range u.got {
		if r.Header.Get("X-Test-Id") == id {
			return r, true
		}
	}
	return received{}, false
}

// envoy is a running Envoy.
type envoy struct {
	addr, admin string // listener and admin, both 127.0.0.1
	stdout      *syncBuffer
	stderr      *syncBuffer
}

// socketAddress matches the flow form the shipped configs use for every
// address: socket_address: { address: A, port_value: P }.
var socketAddress = regexp.MustCompile(`socket_address:\s*\{\s*address:\s*([^,\s]+),\s*port_value:\s*(\d+)\s*\}`)

// rewriteAddresses is the one mechanical change made to a shipped config:
// every socket address "A:P" in it is replaced by addrs["A:P"]. It fails
// when the config has an address that addrs does not name, or addrs names
// one the config does not have, so an address added to a config cannot
// silently keep pointing somewhere else.
func rewriteAddresses(t *testing.T, config string, addrs map[string]string) string {
	t.Helper()
	used := map[string]bool{}
	var missing []string
	out := socketAddress.ReplaceAllStringFunc(config, func(m string) string {
		sm := socketAddress.FindStringSubmatch(m)
		key := sm[1] + ":" + sm[2]
		to, ok := addrs[key]
		if !ok {
			missing = append(missing, key)
			return m
		}
		used[key] = true
		host, port, err := net.SplitHostPort(to)
		if err != nil {
			t.Fatalf("rewriteAddresses: %q: %v", to, err)
		}
		return fmt.Sprintf("socket_address: { address: %s, port_value: %s }", host, port)
	})
	if len(missing) > 0 {
		t.Fatalf("config has socket addresses the test does not replace: %v", missing)
	}
	for k := range addrs {
		if !used[k] {
			t.Fatalf("config has no socket address %s", k)
		}
	}
	return out
}

// readConfig reads a file relative to the repository root.
func readConfig(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startEnvoy runs Envoy on config until the test ends. The config listens
// on listen and has its admin interface on admin; startEnvoy returns once
// the admin interface says Envoy is ready.
func startEnvoy(t *testing.T, config, listen, admin string) *envoy {
	t.Helper()
	path := filepath.Join(t.TempDir(), "envoy.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &envoy{addr: listen, admin: admin, stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	cmd := exec.Command(envoyBin, "-c", path, "--concurrency", "1", "--disable-hot-restart",
		"--log-level", "warn", "--drain-time-s", "0", "--file-flush-interval-msec", "50")
	cmd.Stdout, cmd.Stderr = e.stdout, e.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("envoy did not exit within 10s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("envoy stderr:\n%s", e.stderr)
		}
	})
	waitHTTP(t, http.DefaultClient, "http://"+admin+"/ready", exited, "envoy")
	return e
}

// validateConfig runs envoy --mode validate on config.
func validateConfig(t *testing.T, config string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "envoy.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, envoyBin, "--mode", "validate", "-c", path, "--disable-hot-restart", "--log-level", "warn").CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatal(err)
		}
		t.Fatalf("envoy --mode validate: %v\n%s", err, out)
	}
}

// answer is an HTTP response as the client got it.
type answer struct {
	status int
	header http.Header
	body   string
}

// testIDs numbers requests so that the upstream's records can be matched.
var testIDs struct {
	sync.Mutex
	n int
}

func newTestID() string {
	testIDs.Lock()
	defer testIDs.Unlock()
	testIDs.n++
	return fmt.Sprintf("req-%d", testIDs.n)
}

// get sends GET path to Envoy with the headers ("name: value") and an
// x-test-id, and returns the answer and the id.
func (e *envoy) get(t *testing.T, path string, headers ...string) (answer, string) {
	t.Helper()
	id := newTestID()
	req, err := http.NewRequest(http.MethodGet, "http://"+e.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Test-Id", id)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}, id
}

// raw sends request bytes on a new TCP connection to Envoy and returns the
// status code of the answer.
func (e *envoy) raw(t *testing.T, request string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer to %q: %v", request, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// eventually retries f every 50ms until it returns "" or d passes, then
// fails with its last message.
func eventually(t *testing.T, d time.Duration, f func() string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		msg := f()
		if msg == "" {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("after %v: %s", d, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
