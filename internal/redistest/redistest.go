// Package redistest starts a real redis-server for tests: on a free
// loopback port, without persistence, stopped when the test ends.
package redistest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Server is a redis-server started for a test.
type Server struct {
	// Addr is host:port on 127.0.0.1.
	Addr string
	// URL is redis://Addr.
	URL string
	cmd *exec.Cmd
}

// Binary returns the redis-server to run: $HANKOAUTH_REDIS_SERVER, else
// redis-server on the PATH, else "".
func Binary() string {
	if p := os.Getenv("HANKOAUTH_REDIS_SERVER"); p != "" {
		return p
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return ""
	}
	return p
}

// Start starts a redis-server and stops it when tb ends. Without one it
// skips the test, naming the install script; with CI set it fails.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := Binary()
	if bin == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("redis-server not found (HANKOAUTH_REDIS_SERVER or PATH); scripts/install-redis.sh installs it")
		}
		tb.Skip("redis-server not found (HANKOAUTH_REDIS_SERVER or PATH); run scripts/install-redis.sh")
	}
	var lastErr error
	for range 5 {
		s, err := start(tb, bin)
		if err == nil {
			return s
		}
		lastErr = err
	}
	tb.Fatalf("starting redis-server: %v", lastErr)
	return nil
}

func start(tb testing.TB, bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin,
		"--bind", "127.0.0.1", "--port", fmt.Sprint(port),
		"--save", "", "--appendonly", "no", "--protected-mode", "yes",
		"--daemonize", "no", "--dir", tb.TempDir(), "--loglevel", "warning")
	var out bytes.Buffer // shown when it fails to start
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{Addr: addr, URL: "redis://" + addr, cmd: cmd}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if ping(addr) == nil {
			break
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("redis-server on %s did not answer PING: %s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Cleanup(s.stop)
	return s, nil
}

func (s *Server) stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// Proxy is a TCP proxy in front of a server that a test can cut off (all
// connections closed, new ones refused) and restore, to simulate a
// network failure between one client and Redis.
type Proxy struct {
	// Addr is the proxy's address on 127.0.0.1.
	Addr   string
	target string
	l      net.Listener

	mu    chan struct{} // a one-slot lock
	cut   bool
	conns map[net.Conn]struct{}
	done  chan struct{}
}

// NewProxy starts a proxy to target; it stops when tb ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{Addr: l.Addr().String(), target: target, l: l, mu: make(chan struct{}, 1), conns: make(map[net.Conn]struct{}), done: make(chan struct{})}
	go p.serve()
	tb.Cleanup(func() {
		l.Close()
		<-p.done
		p.Cut()
	})
	return p
}

func (p *Proxy) lock()   { p.mu <- struct{}{} }
func (p *Proxy) unlock() { <-p.mu }

func (p *Proxy) serve() {
	defer close(p.done)
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.lock()
		if p.cut {
			p.unlock()
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, time.Second)
		if err != nil {
			p.unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.unlock()
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	p.lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.unlock()
}

// Cut closes every connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.lock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
	p.unlock()
}

// Restore accepts connections again.
func (p *Proxy) Restore() {
	p.lock()
	p.cut = false
	p.unlock()
}
