package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/hankoauth/hankoauth/hankotest"
)

// testCA is a certificate authority made in the test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a leaf certificate for 127.0.0.1 (server) or a client,
// PEM-encoded with its key, and as a tls.Certificate.
func (ca *testCA) issue(t *testing.T, cn string, client bool) (certPEM, keyPEM []byte, cert tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM, cert
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	// Write and rename, as Kubernetes updates a mounted secret.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestTLSListeners: --tls-cert/--tls-key serve TLS 1.2+ on both listeners,
// --tls-client-ca requires a client certificate of that CA on the gRPC
// listener (not on HTTP, where probes come from), and changed files are
// picked up without a restart.
func TestTLSListeners(t *testing.T) {
	dir := t.TempDir()
	ca, clientCA, otherCA := newCA(t, "server CA"), newCA(t, "client CA"), newCA(t, "other CA")
	certPEM, keyPEM, _ := ca.issue(t, "hanko-authz", false)
	_, _, envoyCert := clientCA.issue(t, "envoy", true)
	_, _, strangerCert := otherCA.issue(t, "stranger", true)
	certFile, keyFile, caFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "client-ca.crt")
	writeFile(t, certFile, certPEM)
	writeFile(t, keyFile, keyPEM)
	writeFile(t, caFile, clientCA.pem)
	srv := startServer(t, "", "--tls-cert", certFile, "--tls-key", keyFile, "--tls-client-ca", caFile)
	grpcAddr, httpAddr := srv.grpcLis.Addr().String(), srv.httpLis.Addr().String()

	healthCheck := func(creds credentials.TransportCredentials) error {
		conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(creds))
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	tlsCreds := func(certs []tls.Certificate, maxVersion uint16) credentials.TransportCredentials {
		return credentials.NewTLS(&tls.Config{RootCAs: ca.pool(), Certificates: certs, MaxVersion: maxVersion})
	}
	grpcCases := []struct {
		name  string
		creds credentials.TransportCredentials
		ok    bool
	}{
		{"client certificate of the CA", tlsCreds([]tls.Certificate{envoyCert}, 0), true},
		{"no client certificate", tlsCreds(nil, 0), false},
		{"client certificate of another CA", tlsCreds([]tls.Certificate{strangerCert}, 0), false},
		{"TLS 1.1", tlsCreds([]tls.Certificate{envoyCert}, tls.VersionTLS11), false},
		{"plaintext", insecure.NewCredentials(), false},
	}
	for _, tc := range grpcCases {
		t.Run("grpc/"+tc.name, func(t *testing.T) {
			if err := healthCheck(tc.creds); (err == nil) != tc.ok {
				t.Errorf("health check: %v, want ok=%v", err, tc.ok)
			}
		})
	}

	httpGetTLS := func(cfg *tls.Config) (*http.Response, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 5 * time.Second}
		defer c.CloseIdleConnections()
		return c.Get("https://" + httpAddr + "/healthz")
	}
	t.Run("http/no client certificate needed", func(t *testing.T) {
		resp, err := httpGetTLS(&tls.Config{RootCAs: ca.pool()})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
			t.Errorf("status %d, TLS %+v", resp.StatusCode, resp.TLS)
		}
	})
	t.Run("http/TLS 1.1", func(t *testing.T) {
		if _, err := httpGetTLS(&tls.Config{RootCAs: ca.pool(), MaxVersion: tls.VersionTLS11}); err == nil {
			t.Error("TLS 1.1 accepted")
		}
	})
	t.Run("http/plaintext", func(t *testing.T) {
		c := &http.Client{Timeout: 5 * time.Second}
		if resp, err := c.Get("http://" + httpAddr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Error("plain http served")
			}
		}
	})

	// Rotate the server certificate (new CA) and the client CA; after the
	// reload check interval, new handshakes see both.
	t.Run("reload", func(t *testing.T) {
		ca2 := newCA(t, "server CA 2")
		certPEM2, keyPEM2, _ := ca2.issue(t, "hanko-authz-2", false)
		writeFile(t, certFile, certPEM2)
		writeFile(t, keyFile, keyPEM2)
		writeFile(t, caFile, otherCA.pem)
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := healthCheck(credentials.NewTLS(&tls.Config{RootCAs: ca2.pool(), Certificates: []tls.Certificate{strangerCert}}))
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("new certificate and client CA not served: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err := healthCheck(credentials.NewTLS(&tls.Config{RootCAs: ca2.pool(), Certificates: []tls.Certificate{envoyCert}})); err == nil {
			t.Error("a client certificate of the replaced CA is still accepted")
		}
		resp, err := httpGetTLS(&tls.Config{RootCAs: ca2.pool()})
		if err != nil {
			t.Fatalf("http after reload: %v", err)
		}
		resp.Body.Close()
		// A broken update (a key that does not fit) keeps the last good pair.
		_, keyPEM3, _ := ca2.issue(t, "mismatch", false)
		writeFile(t, keyFile, keyPEM3)
		time.Sleep(reloadCheck + 100*time.Millisecond)
		resp, err = httpGetTLS(&tls.Config{RootCAs: ca2.pool()})
		if err != nil {
			t.Fatalf("a broken update broke the listener: %v", err)
		}
		resp.Body.Close()
	})
}

// TestHankoOverHTTPS: https to Hanko verifies the certificate, against
// --hanko-ca-file when given; an unknown CA keeps the server unready.
func TestHankoOverHTTPS(t *testing.T) {
	ca := newCA(t, "hanko CA")
	_, _, cert := ca.issue(t, "hanko", false)
	h, err := hankotest.New()
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(h.Handler())
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	hs.StartTLS()
	defer hs.Close()
	caFile := filepath.Join(t.TempDir(), "hanko-ca.crt")
	writeFile(t, caFile, ca.pem)

	startServer(t, hs.URL, "--hanko-ca-file", caFile) // waits until ready: the JWKS came over verified TLS

	cfg := serveFlags(t, "--hanko-url", hs.URL, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	var logs syncBuffer
	srv, err := newServer(cfg, cfg.logger(&logs), hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "certificate") {
		if time.Now().After(deadline) {
			t.Fatalf("no certificate failure logged: %s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if srv.v.Ready() == nil {
		t.Fatal("ready with a Hanko certificate of an unknown CA")
	}
}

// serveFlags is the serve configuration of args.
func serveFlags(t *testing.T, args ...string) serveConfig {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg serveConfig
	addServeFlags(fs, &cfg, true, "")
	if err := parseArgs(fs, args, noEnv); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestWarnPlainHanko(t *testing.T) {
	for url, warn := range map[string]bool{
		"http://hanko.internal:8000":    true,
		"http://10.0.0.5":               true,
		"http://127.0.0.1:8000":         false,
		"http://127.1.2.3":              false,
		"http://[::1]:8000":             false,
		"http://localhost:8000":         false,
		"https://example.hanko.io":      false,
		"https://127.0.0.1:8000/tenant": false,
	} {
		var b strings.Builder
		warnPlainHanko(slog.New(slog.NewTextHandler(&b, nil)), url)
		if got := strings.Contains(b.String(), "plain http"); got != warn {
			t.Errorf("%s: warned %v, want %v", url, got, warn)
		}
	}
}
