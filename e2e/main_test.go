package e2e

import (
	"go.uber.org/goleak"

	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The binaries TestMain builds.
var (
	hankoAuthz string // path of hanko-authz
	grpcurlBin string // path of grpcurl
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips itself
	}
	dir, err := os.MkdirTemp("", "hanko-authz-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
	} else {
		code = m.Run()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: goroutines outlive the tests:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// build builds hanko-authz and grpcurl into dir.
func build(dir string) error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	hankoAuthz = filepath.Join(dir, "hanko-authz")
	grpcurlBin = filepath.Join(dir, "grpcurl")
	for _, args := range [][]string{
		{"build", "-o", hankoAuthz, "./cmd/hanko-authz"},
		{"build", "-modfile=tools/go.mod", "-o", grpcurlBin, "github.com/fullstorydev/grpcurl/cmd/grpcurl"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: builds binaries")
	}
}

// cleanEnv is the environment without hanko-authz's own variables, so
// that the caller's shell does not configure the processes under test.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HANKO_AUTHZ_") && !strings.HasPrefix(kv, "HANKO_API_URL=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// freeAddr returns a 127.0.0.1 address with a port that was free a
// moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
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

// devServer is a running "hanko-authz dev".
type devServer struct {
	cmd                           *exec.Cmd
	hankoAddr, grpcAddr, httpAddr string
	token, sessionID, userID      string
	stdout, stderr                *syncBuffer
	exited                        chan struct{}
	exitErr                       error
}

var exportLine = regexp.MustCompile(`(?m)^export (TOKEN|SESSION_ID|USER_ID)=(\S+)$`)

// startDev runs "hanko-authz dev" on free ports with the extra flags and
// waits until it has printed its demo session. The process is stopped
// with SIGTERM when the test ends.
func startDev(t *testing.T, extra ...string) *devServer {
	t.Helper()
	d := &devServer{
		hankoAddr: freeAddr(t), grpcAddr: freeAddr(t), httpAddr: freeAddr(t),
		stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{}),
	}
	args := append([]string{"dev", "--hanko-addr", d.hankoAddr, "--grpc-addr", d.grpcAddr, "--http-addr", d.httpAddr}, extra...)
	d.cmd = exec.Command(hankoAuthz, args...)
	d.cmd.Env = cleanEnv()
	d.cmd.Stderr = d.stderr
	pr, pw := io.Pipe()
	d.cmd.Stdout = pw
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.exitErr = d.cmd.Wait()
		pw.Close()
		close(d.exited)
	}()
	printed := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		closed := false
		for sc.Scan() {
			d.stdout.Write(append(sc.Bytes(), '\n'))
			if !closed && strings.HasPrefix(sc.Text(), "Press Ctrl-C") {
				close(printed)
				closed = true
			}
		}
		io.Copy(io.Discard, pr)
	}()
	t.Cleanup(func() { d.stop(t) })
	select {
	case <-printed:
	case <-d.exited:
		t.Fatalf("hanko-authz dev exited early: %v\nstderr:\n%s", d.exitErr, d.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("hanko-authz dev printed no session within 30s\nstdout:\n%s\nstderr:\n%s", d.stdout, d.stderr)
	}
	for _, m := range exportLine.FindAllStringSubmatch(d.stdout.String(), -1) {
		switch m[1] {
		case "TOKEN":
			d.token = m[2]
		case "SESSION_ID":
			d.sessionID = m[2]
		case "USER_ID":
			d.userID = m[2]
		}
	}
	if d.token == "" || d.sessionID == "" || d.userID == "" {
		t.Fatalf("no export lines in the output of dev:\n%s", d.stdout)
	}
	return d
}

// stop sends SIGTERM and waits for the process; it fails the test if the
// process does not exit promptly with status 0.
func (d *devServer) stop(t *testing.T) (elapsed time.Duration) {
	t.Helper()
	select {
	case <-d.exited:
		return 0
	default:
	}
	start := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	select {
	case <-d.exited:
	case <-time.After(15 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
		t.Errorf("hanko-authz dev did not exit within 15s of SIGTERM")
	}
	if d.exitErr != nil {
		t.Errorf("hanko-authz dev exited with %v after SIGTERM\nstderr:\n%s", d.exitErr, d.stderr)
	}
	if strings.Contains(d.stderr.String(), d.token) {
		t.Errorf("the log contains the token")
	}
	return time.Since(start)
}

// result is the outcome of running a command.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the binary bin with args and env, with a timeout.
func run(t *testing.T, env []string, stdin string, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %v: %v", filepath.Base(bin), args, err)
	}
	return r
}

// grpcurl runs the real grpcurl in plaintext against addr.
func grpcurl(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, cleanEnv(), "", grpcurlBin, append([]string{"-plaintext", "-max-time", "20"}, args...)...)
}
