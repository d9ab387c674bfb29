package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/hankoauth/hankoauth"
)

// tlsConfig holds the TLS flags of the listeners.
type tlsConfig struct {
	tlsCert     string
	tlsKey      string
	tlsClientCA string
}

// addTLSFlags registers the listeners' TLS flags.
func addTLSFlags(fs *flag.FlagSet, c *tlsConfig) {
	fs.StringVar(&c.tlsCert, "tls-cert", "", "serve TLS (1.2 and later) on both listeners with this PEM certificate chain `file` (with --tls-key); reloaded when the file changes")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key `file` of --tls-cert; reloaded when the file changes")
	fs.StringVar(&c.tlsClientCA, "tls-client-ca", "", "require client certificates on the gRPC listener, signed by a CA in this PEM `file` (needs --tls-cert); reloaded when the file changes")
}

// enabled reports whether the listeners serve TLS.
func (c *tlsConfig) enabled() bool { return c.tlsCert != "" }

// check reports an incomplete TLS configuration.
func (c *tlsConfig) check() error {
	switch {
	case (c.tlsCert == "") != (c.tlsKey == ""):
		return usageErrorf("--tls-cert and --tls-key go together")
	case c.tlsClientCA != "" && c.tlsCert == "":
		return usageErrorf("--tls-client-ca needs --tls-cert and --tls-key")
	}
	return nil
}

// serverTLS returns the TLS configurations of the gRPC and the HTTP
// listener, both reading the certificate through one reloader. The gRPC
// one requires a client certificate when --tls-client-ca is set.
func (c *tlsConfig) serverTLS(log *slog.Logger) (grpcTLS, httpTLS *tls.Config, err error) {
	r := &certReloader{certFile: c.tlsCert, keyFile: c.tlsKey, caFile: c.tlsClientCA, log: log, now: time.Now}
	if err := r.load(); err != nil {
		return nil, nil, err
	}
	base := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.getCertificate}
	httpTLS = base.Clone()
	httpTLS.NextProtos = []string{"h2", "http/1.1"}
	grpcTLS = base.Clone()
	grpcTLS.NextProtos = []string{"h2"}
	if c.tlsClientCA != "" {
		// Per handshake, so that a reloaded CA file applies at once.
		grpcTLS.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cfg := base.Clone()
			cfg.NextProtos = []string{"h2"}
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
			cfg.ClientCAs = r.clientCAs()
			return cfg, nil
		}
	}
	return grpcTLS, httpTLS, nil
}

// certReloader serves a certificate (and a client CA pool) from files, and
// reloads them when the files change: at a handshake, at most once per
// reloadCheck, it compares the files' sizes and modification times with
// those it loaded. A change that does not load (a half-written file, a
// key that does not fit the certificate) keeps the last good set, logged.
type certReloader struct {
	certFile, keyFile, caFile string
	log                       *slog.Logger
	now                       func() time.Time

	mu        sync.Mutex
	cert      *tls.Certificate
	pool      *x509.CertPool
	stamp     string // sizes and modification times of the loaded files
	lastCheck time.Time
}

// reloadCheck is the longest a changed file goes unnoticed.
const reloadCheck = time.Second

// load reads the files; it fails when they do not make a certificate (and
// a CA pool).
func (r *certReloader) load() error {
	stamp := r.fileStamp()
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	var pool *x509.CertPool
	if r.caFile != "" {
		pem, err := os.ReadFile(r.caFile)
		if err != nil {
			return fmt.Errorf("--tls-client-ca: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--tls-client-ca: no PEM certificate in %s", r.caFile)
		}
	}
	r.mu.Lock()
	r.cert, r.pool, r.stamp, r.lastCheck = &cert, pool, stamp, r.now()
	r.mu.Unlock()
	return nil
}

// fileStamp describes the files' current versions.
func (r *certReloader) fileStamp() string {
	var b bytes.Buffer
	for _, f := range []string{r.certFile, r.keyFile, r.caFile} {
		if f == "" {
			continue
		}
		if fi, err := os.Stat(f); err == nil {
			fmt.Fprintf(&b, "%d@%d;", fi.Size(), fi.ModTime().UnixNano())
		} else {
			b.WriteString("missing;")
		}
	}
	return b.String()
}

// maybeReload reloads the files when they changed since the last load.
func (r *certReloader) maybeReload() {
	r.mu.Lock()
	now := r.now()
	if now.Sub(r.lastCheck) < reloadCheck {
		r.mu.Unlock()
		return
	}
	r.lastCheck = now
	old := r.stamp
	r.mu.Unlock()
	if r.fileStamp() == old {
		return
	}
	if err := r.load(); err != nil {
		r.log.Warn("TLS files changed but do not load; serving the last good certificate", slog.String("error", err.Error()))
		return
	}
	r.log.Info("TLS certificate reloaded", slog.String("cert", r.certFile))
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.maybeReload()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cert, nil
}

func (r *certReloader) clientCAs() *x509.CertPool {
	r.maybeReload()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pool
}

// hankoTransport returns a transport wrapper that applies --hanko-ca-file:
// https to Hanko verifies certificates against the system roots, or
// against caFile's CAs when set. The wrapper works on the *http.Transport
// that hankoauth.NewHTTPClient builds.
func hankoTransport(caFile string) (func(http.RoundTripper) http.RoundTripper, error) {
	if caFile == "" {
		return func(rt http.RoundTripper) http.RoundTripper { return rt }, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, usageErrorf("--hanko-ca-file: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, usageErrorf("--hanko-ca-file: no PEM certificate in %s", caFile)
	}
	return func(rt http.RoundTripper) http.RoundTripper {
		if t, ok := rt.(*http.Transport); ok {
			t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
		}
		return rt
	}, nil
}

// warnPlainHanko logs a warning when Hanko is reached over plain http on
// anything but a loopback address: the tokens would cross the network in
// the clear.
func warnPlainHanko(log *slog.Logger, hankoURL string) {
	u, err := url.Parse(hankoURL)
	if err != nil || u.Scheme != "http" {
		return
	}
	host := u.Hostname()
	if host == "localhost" {
		return
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return
	}
	log.Warn("hanko is reached over plain http: session tokens cross the network unencrypted; use https", slog.String("hanko_url", hankoURL))
}

// hankoHTTPClient is the client the validator calls Hanko with: the
// library's default client, with --hanko-ca-file applied, then wrap (an
// instrumented transport) when not nil.
func (c *validatorConfig) hankoHTTPClient(wrap func(http.RoundTripper) http.RoundTripper) (*http.Client, error) {
	ca, err := hankoTransport(c.hankoCAFile)
	if err != nil {
		return nil, err
	}
	return hankoauth.NewHTTPClient(hankoauth.DefaultRequestTimeout, func(rt http.RoundTripper) http.RoundTripper {
		rt = ca(rt)
		if wrap != nil {
			rt = wrap(rt)
		}
		return rt
	}), nil
}
