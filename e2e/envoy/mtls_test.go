package envoy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The gRPC listener with mutual TLS: hanko-authz serves --tls-cert and
// requires a client certificate of --tls-client-ca; Envoy's hanko_authz
// cluster presents one.
//
// The Envoy config is the shipped deploy/envoy/envoy.yaml, rewritten like
// every other case (rewriteAddresses), plus one addition: a
// transport_socket envoy.transport_sockets.tls on the hanko_authz cluster
// (upstreamTLS), as the README's TLS and mTLS section describes, ALPN "h2"
// included. Its variants differ only in the client certificate the cluster
// presents: one of the CA hanko-authz trusts (allowed with a session, 401
// without), none, or one of another CA. Without a trusted certificate the
// handshake fails, every Check errs, and Envoy answers status_on_error
// (503): with a valid session too, never admitting the request.
func TestMTLS(t *testing.T) {
	needEnvoy(t)
	t.Parallel()
	dir := t.TempDir()
	ca := newCA(t, "hanko-authz test CA")
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := file("ca.crt", ca.pem)
	sCert, sKey := ca.issue(t, "hanko-authz", false)
	cCert, cKey := ca.issue(t, "envoy", true)
	other := newCA(t, "another CA")
	oCert, oKey := other.issue(t, "envoy", true)
	trusted := &clientCert{cert: file("client.crt", cCert), key: file("client.key", cKey)}
	untrusted := &clientCert{cert: file("other.crt", oCert), key: file("other.key", oKey)}

	h := startHanko(t)
	up := startUpstream(t)
	a := startAuthzTLS(t, h.url, ca.pool(),
		"--tls-cert", file("server.crt", sCert), "--tls-key", file("server.key", sKey),
		"--tls-client-ca", caFile)
	run := func(t *testing.T, cc *clientCert) *envoy {
		t.Helper()
		return runShipped(t, config{file: grpcConfig, edit: func(c string) string {
			return upstreamTLS(t, c, caFile, cc)
		}}, a.grpcAddr, a.httpAddr, up.addr)
	}
	m := h.mint(t)

	t.Run("client_certificate", func(t *testing.T) {
		e := run(t, trusted)
		got, id := e.get(t, "/api/orders", "authorization: Bearer "+m.Token)
		if got.status != http.StatusOK {
			t.Fatalf("with a session: status %d, want 200 (%s)", got.status, got.body)
		}
		r, ok := up.byID(id)
		if !ok {
			t.Fatal("the upstream did not get the allowed request")
		}
		if v := r.Header.Get("x-hanko-user-id"); v != m.UserID {
			t.Errorf("x-hanko-user-id = %q, want %q", v, m.UserID)
		}
		got, id = e.get(t, "/api/orders")
		if got.status != http.StatusUnauthorized {
			t.Fatalf("without a token: status %d, want 401 (%s)", got.status, got.body)
		}
		wantBody(t, got, "unauthenticated", "TOKEN_MISSING")
		if _, ok := up.byID(id); ok {
			t.Error("the upstream got a denied request")
		}
		// Envoy's gRPC health check passes too: without ALPN "h2" in the
		// UpstreamTlsContext grpc-go closes the health checker's
		// connection, and only Envoy's panic routing keeps requests going.
		eventually(t, 5*time.Second, func() string {
			if e.stat(t, "cluster.hanko_authz.health_check.success") == 0 {
				return "no gRPC health check of hanko-authz succeeded"
			}
			return ""
		})
		if n := e.stat(t, "cluster.hanko_authz.health_check.failure"); n != 0 {
			t.Errorf("cluster.hanko_authz.health_check.failure = %d, want 0\n%s", n, e.stats(t, "cluster.hanko_authz.health_check"))
		}
	})
	for _, c := range []struct {
		name string
		cc   *clientCert
	}{
		{"no_client_certificate", nil},
		{"untrusted_client_certificate", untrusted},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := run(t, c.cc)
			for _, hs := range [][]string{{"authorization: Bearer " + m.Token}, nil} {
				got, id := e.get(t, "/api/orders", hs...)
				if got.status != http.StatusServiceUnavailable {
					t.Errorf("session %v: status %d, want 503 (status_on_error) (%s)", hs != nil, got.status, got.body)
				}
				if _, ok := up.byID(id); ok {
					t.Errorf("session %v: the upstream got a request Envoy could not check", hs != nil)
				}
			}
			// The 503 is the handshake failing, not something else.
			if n := e.stat(t, "cluster.hanko_authz.ssl.connection_error"); n == 0 {
				t.Errorf("cluster.hanko_authz.ssl.connection_error = 0, want TLS handshakes failing\n%s", e.stats(t, "cluster.hanko_authz."))
			}
		})
	}
}

// clientCert names the PEM files of a client certificate and its key.
type clientCert struct{ cert, key string }

// upstreamTLS adds to the hanko_authz cluster of the shipped gRPC config a
// transport_socket that offers ALPN "h2" (grpc-go refuses TLS connections
// without it, among them those of Envoy's gRPC health checker, which sends
// none of its own), verifies hanko-authz's certificate against caFile for
// the name hanko-authz (sent as SNI and matched in its DNS names), and
// presents cc (none when nil).
func upstreamTLS(t *testing.T, config, caFile string, cc *clientCert) string {
	t.Helper()
	const at = "- name: hanko_authz\n"
	if strings.Count(config, at) != 1 {
		t.Fatalf("%s: no single %q to add a transport_socket to", grpcConfig, at)
	}
	i := strings.Index(config, at)
	indent := config[strings.LastIndex(config[:i], "\n")+1:i] + "  "
	certs := ""
	if cc != nil {
		certs = fmt.Sprintf(`
      tls_certificates:
        - certificate_chain: { filename: %q }
          private_key: { filename: %q }`, cc.cert, cc.key)
	}
	socket := fmt.Sprintf(`transport_socket:
  name: envoy.transport_sockets.tls
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
    sni: hanko-authz
    common_tls_context:
      alpn_protocols: ["h2"]%s
      validation_context:
        trusted_ca: { filename: %q }
        match_typed_subject_alt_names:
          - san_type: DNS
            matcher: { exact: hanko-authz }
`, certs, caFile)
	lines := strings.SplitAfter(socket, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(indent + l)
		}
	}
	j := i + len(at)
	return config[:j] + b.String() + config[j:]
}

// stats returns Envoy's admin stats whose names contain filter.
func (e *envoy) stats(t *testing.T, filter string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + e.admin + "/stats?filter=" + filter)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// stat returns the value of Envoy's counter name.
func (e *envoy) stat(t *testing.T, name string) int {
	t.Helper()
	for l := range strings.Lines(e.stats(t, name)) {
		k, v, ok := strings.Cut(strings.TrimSpace(l), ": ")
		if ok && k == name {
			var n int
			if _, err := fmt.Sscan(v, &n); err != nil {
				t.Fatalf("stat %s: %q: %v", name, v, err)
			}
			return n
		}
	}
	t.Fatalf("Envoy has no stat %s", name)
	return 0
}

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
		SerialNumber:          serial(t),
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
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key signed by ca: a server
// certificate for hanko-authz and 127.0.0.1, or a client certificate.
func (ca *testCA) issue(t *testing.T, cn string, client bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{cn},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		tmpl.IPAddresses, tmpl.DNSNames = nil, nil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// serial is a random certificate serial number.
func serial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
