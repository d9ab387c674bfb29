package envoy

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

var (
	envoyBin   string // the Envoy binary, "" when none was found
	hankoAuthz string // the hanko-authz binary TestMain built
	repoRoot   string // the main module's directory
)

const installHint = "Envoy not found: run scripts/install-envoy.sh and set HANKOAUTH_ENVOY to the path it prints (or put envoy on PATH)"

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips itself
	}
	envoyBin = findEnvoy()
	if envoyBin == "" {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "e2e/envoy: CI is set and "+installHint)
			os.Exit(1)
		}
		os.Exit(m.Run()) // every test skips itself
	}
	dir, err := os.MkdirTemp("", "hanko-authz-envoy")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e/envoy:", err)
	} else {
		code = m.Run()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e/envoy: goroutines outlive the tests:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// findEnvoy returns HANKOAUTH_ENVOY, else envoy from PATH, else "".
func findEnvoy() string {
	if p := os.Getenv("HANKOAUTH_ENVOY"); p != "" {
		if _, err := os.Stat(p); err != nil {
			fmt.Fprintf(os.Stderr, "e2e/envoy: HANKOAUTH_ENVOY=%s: %v\n", p, err)
			return ""
		}
		return p
	}
	p, err := exec.LookPath("envoy")
	if err != nil {
		return ""
	}
	return p
}

// build builds hanko-authz into dir.
func build(dir string) error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	repoRoot = filepath.Dir(strings.TrimSpace(string(out)))
	hankoAuthz = filepath.Join(dir, "hanko-authz")
	cmd := exec.Command("go", "build", "-o", hankoAuthz, "./cmd/hanko-authz")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/hanko-authz: %v\n%s", err, out)
	}
	return nil
}

// needEnvoy skips the test under -short and when there is no Envoy.
func needEnvoy(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test with Envoy: builds and runs binaries")
	}
	if envoyBin == "" {
		t.Skip(installHint)
	}
}
