package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/hankoauth/hankoauth"
)

const doctorDescription = `Doctor checks a deployment against a Hanko and says what to change: the
URL (DNS, TCP, TLS, HTTP and the path prefix), the JWKS (status,
Cache-Control, every key's type, size and alg), the clock skew against
Hanko's Date header, /sessions/validate (does it answer as Hanko does, and
how fast), and with a token (--token, or on stdin when stdin is not a
terminal) its claims, its verification with --audience/--issuer, and
Hanko's verdict on it. The token and its signature are never printed.

Exit status: 0 every check passed (warnings allowed); 1 a check failed;
2 a usage error.`

// doctorConfig is the configuration of doctor.
type doctorConfig struct {
	hankoURL string
	token    string
	audience listValue
	issuer   string
	output   *choiceValue
	timeout  time.Duration
	calls    int
	caFile   string // --hanko-ca-file, as serve takes it
}

// The states of a finding, and their marks in text output.
const (
	statusPass = "pass"
	statusWarn = "warn"
	statusFail = "fail"
	statusSkip = "skip"
)

var statusMark = map[string]string{statusPass: "✓", statusWarn: "!", statusFail: "✗", statusSkip: "-"}

// finding is the result of one check.
type finding struct {
	Check   string `json:"check"`
	Status  string `json:"status"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// tokenSummary holds the claims doctor shows: never the token or its
// signature.
type tokenSummary struct {
	Alg           string    `json:"alg"`
	KeyID         string    `json:"kid"`
	Subject       string    `json:"sub,omitempty"`
	SessionID     string    `json:"session_id,omitempty"`
	Audience      []string  `json:"aud,omitempty"`
	Issuer        string    `json:"iss,omitempty"`
	IssuedAt      time.Time `json:"iat,omitzero"`
	ExpiresAt     time.Time `json:"exp,omitzero"`
	Email         string    `json:"email,omitempty"`
	EmailVerified *bool     `json:"email_verified,omitempty"`
	AMR           []string  `json:"amr,omitempty"`
}

// doctorReport is doctor's whole answer, as --output json prints it.
type doctorReport struct {
	HankoURL         string        `json:"hanko_url"`
	OK               bool          `json:"ok"`
	Findings         []finding     `json:"findings"`
	Token            *tokenSummary `json:"token,omitempty"`
	RecommendedFlags []string      `json:"recommended_flags,omitempty"`
}

func (c *cli) doctor(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	var cfg doctorConfig
	fs.StringVar(&cfg.hankoURL, "hanko-url", "", "Hanko's public API `URL` (required), as given to serve")
	fs.StringVar(&cfg.token, "token", "", "a session `token` to check (else read from stdin when it is not a terminal)")
	fs.Var(&cfg.audience, "audience", "the --audience serve uses (`list`)")
	fs.StringVar(&cfg.issuer, "issuer", "", "the --issuer serve uses")
	fs.StringVar(&cfg.caFile, "hanko-ca-file", "", "the --hanko-ca-file serve uses: CA certificates (PEM `file`) that https to Hanko trusts instead of the system roots")
	cfg.output = newChoice("text", "text", "json")
	fs.Var(cfg.output, "output", "output `format`: text or json")
	fs.DurationVar(&cfg.timeout, "timeout", hankoauth.DefaultRequestTimeout, "how long one request to Hanko may take (the validator's request timeout)")
	fs.IntVar(&cfg.calls, "calls", 5, "how many calls to /sessions/validate measure its latency")
	if code, done := c.parse(fs, args, "hanko-authz doctor --hanko-url URL [--token T | stdin] [flags]", doctorDescription); done {
		return code
	}
	switch {
	case fs.NArg() > 0:
		return c.fail("doctor", usageErrorf("unexpected argument %q (give the token with --token or on stdin)", fs.Arg(0)))
	case cfg.hankoURL == "":
		return c.fail("doctor", usageErrorf("--hanko-url (or HANKO_API_URL) is required"))
	case cfg.timeout <= 0:
		return c.fail("doctor", usageErrorf("--timeout must be positive"))
	case cfg.calls < 1 || cfg.calls > 100:
		return c.fail("doctor", usageErrorf("--calls must be between 1 and 100"))
	}
	if cfg.token == "" {
		tok, err := c.readStdinToken(ctx, cfg.timeout)
		if err != nil {
			return c.fail("doctor", err)
		}
		cfg.token = tok
	}
	ca, err := hankoTransport(cfg.caFile)
	if err != nil {
		return c.fail("doctor", err)
	}
	d := newDoctor(cfg, ca)
	d.run(ctx)
	rep := d.report()
	if cfg.output.value == "json" {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return c.fail("doctor", err)
		}
	} else {
		writeDoctorText(c.stdout, rep)
	}
	if !rep.OK {
		return exitFailure
	}
	return exitOK
}

// readStdinToken reads a token from stdin unless stdin is a terminal. A
// stdin that gives nothing within timeout is a usage error.
func (c *cli) readStdinToken(ctx context.Context, timeout time.Duration) (string, error) {
	if f, ok := c.stdin.(*os.File); ok {
		if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice != 0 {
			return "", nil
		}
	}
	type read struct {
		b   []byte
		err error
	}
	ch := make(chan read, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(c.stdin, hankoauth.MaxTokenLength+4096))
		ch <- read{b, err}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		if r.err != nil {
			return "", fmt.Errorf("reading the token from stdin: %w", r.err)
		}
		return strings.TrimSpace(string(r.b)), nil
	case <-t.C:
		return "", usageErrorf("stdin gave no token within %v: pass --token, or </dev/null for none", timeout)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// doctor runs the checks of one doctor command.
type doctor struct {
	cfg      doctorConfig
	client   *http.Client
	now      func() time.Time
	findings []finding
	token    *tokenSummary
	flags    []string // recommended flags

	base    *url.URL // the parsed --hanko-url, without a trailing slash
	jwksOK  bool     // the JWKS answered 200 with at least one usable key
	hankoUp bool     // Hanko's API answered at this URL
}

// newDoctor builds a doctor whose client applies ca (--hanko-ca-file), as
// serve's does.
func newDoctor(cfg doctorConfig, ca func(http.RoundTripper) http.RoundTripper) *doctor {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = cfg.timeout
	ca(t)
	return &doctor{
		cfg: cfg,
		client: &http.Client{
			Timeout:   cfg.timeout,
			Transport: t,
			// The validator does not follow redirects: report them.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		now: time.Now,
	}
}

func (d *doctor) add(check, status, msg, fix string) {
	d.findings = append(d.findings, finding{Check: check, Status: status, Message: msg, Fix: fix})
}

func (d *doctor) report() doctorReport {
	ok := !slices.ContainsFunc(d.findings, func(f finding) bool { return f.Status == statusFail })
	return doctorReport{HankoURL: d.cfg.hankoURL, OK: ok, Findings: d.findings, Token: d.token, RecommendedFlags: d.flags}
}

// run runs every check; a check that later ones depend on stops them
// when it fails.
func (d *doctor) run(ctx context.Context) {
	defer d.client.CloseIdleConnections()
	if !d.checkURL() || !d.checkNetwork(ctx) {
		d.checkToken(ctx)
		return
	}
	d.checkJWKS(ctx)
	d.checkValidate(ctx)
	d.checkToken(ctx)
}

func (d *doctor) endpoint(path string) string {
	return strings.TrimRight(d.base.String(), "/") + path
}

func (d *doctor) checkURL() bool {
	u, err := url.Parse(d.cfg.hankoURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.add("url", statusFail, fmt.Sprintf("%q is not an http(s) URL", d.cfg.hankoURL),
			"give Hanko's public API base URL, such as https://<project>.hanko.io")
		return false
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		d.add("url", statusFail, "the URL carries a query, fragment or credentials", "give the bare base URL of Hanko's public API")
		return false
	}
	for _, suffix := range []string{"/.well-known/jwks.json", "/sessions/validate"} {
		if p := strings.TrimRight(u.Path, "/"); strings.HasSuffix(p, suffix) {
			fixed := *u
			fixed.Path = strings.TrimSuffix(p, suffix)
			d.add("url", statusFail, "the URL names an endpoint, not Hanko's base URL",
				"use --hanko-url "+fixed.String())
			return false
		}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	d.base = u
	d.add("url", statusPass, u.String(), "")
	return true
}

// checkNetwork checks DNS, TCP and TLS; it reports whether HTTP can be
// tried.
func (d *doctor) checkNetwork(ctx context.Context) bool {
	host, port := d.base.Hostname(), d.base.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[d.base.Scheme]
	}
	if ip := net.ParseIP(host); ip != nil {
		d.add("dns", statusSkip, host+" is an IP address", "")
	} else {
		rctx, cancel := context.WithTimeout(ctx, d.cfg.timeout)
		addrs, err := net.DefaultResolver.LookupHost(rctx, host)
		cancel()
		if err != nil {
			d.add("dns", statusFail, fmt.Sprintf("%s does not resolve: %v", host, err),
				"check the host name in --hanko-url; inside Kubernetes, the Service's DNS name (<service>.<namespace>.svc.cluster.local)")
			return false
		}
		d.add("dns", statusPass, fmt.Sprintf("%s resolves to %s", host, strings.Join(addrs, ", ")), "")
	}
	addr := net.JoinHostPort(host, port)
	dialer := &net.Dialer{Timeout: d.cfg.timeout}
	start := time.Now()
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		d.add("tcp", statusFail, fmt.Sprintf("cannot connect to %s: %v", addr, err),
			"is Hanko running and listening on that port? a firewall or network policy between here and Hanko?")
		return false
	}
	conn.Close()
	d.add("tcp", statusPass, fmt.Sprintf("connected to %s in %v", addr, time.Since(start).Round(10*time.Microsecond)), "")
	if d.base.Scheme == "http" {
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			d.add("tls", statusSkip, "plain HTTP on loopback", "")
		} else {
			d.add("tls", statusWarn, "plain HTTP: tokens cross the network in clear",
				"use https, unless a mesh (mTLS) protects the hop to Hanko")
		}
		return true
	}
	tctx, cancel := context.WithTimeout(ctx, d.cfg.timeout)
	defer cancel()
	tcfg := &tls.Config{ServerName: host}
	if t, ok := d.client.Transport.(*http.Transport); ok && t.TLSClientConfig != nil {
		tcfg.RootCAs = t.TLSClientConfig.RootCAs // --hanko-ca-file
	}
	td := &tls.Dialer{NetDialer: dialer, Config: tcfg}
	tc, err := td.DialContext(tctx, "tcp", addr)
	if err != nil {
		d.add("tls", statusFail, fmt.Sprintf("TLS handshake with %s failed: %v", addr, err),
			"Hanko's certificate must be valid for the host and trusted by this machine's roots (SSL_CERT_FILE), or by --hanko-ca-file's CAs (give serve the same flag)")
		return false
	}
	defer tc.Close()
	st := tc.(*tls.Conn).ConnectionState()
	leaf := st.PeerCertificates[0]
	msg := fmt.Sprintf("%s, certificate valid until %s", tls.VersionName(st.Version), leaf.NotAfter.UTC().Format(time.DateOnly))
	if left := leaf.NotAfter.Sub(d.now()); left < 14*24*time.Hour {
		d.add("tls", statusWarn, msg+fmt.Sprintf(" (%d days left)", int(left.Hours()/24)), "renew Hanko's certificate")
	} else {
		d.add("tls", statusPass, msg, "")
	}
	return true
}

// do does one request; it returns the answer with its body read (at most
// 1 MiB), and how long it took.
func (d *doctor) do(ctx context.Context, method, url, body string) (*http.Response, []byte, time.Duration, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, nil, time.Since(start), err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, data, time.Since(start), err
}

// httpFailure turns an answer that is not the expected one into a
// finding, telling a wrong URL from a Hanko that is down.
func (d *doctor) httpFailure(ctx context.Context, check, what string, resp *http.Response, err error) {
	switch {
	case err != nil && isTimeout(err):
		d.add(check, statusFail, fmt.Sprintf("%s: no answer within %v", what, d.cfg.timeout),
			"Hanko is overloaded or a proxy holds the request; every validation waits this long, so fix Hanko (or raise its resources) before serving")
	case err != nil:
		d.add(check, statusFail, fmt.Sprintf("%s: %v", what, err), "is Hanko reachable from here, and the scheme (http/https) right?")
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		d.add(check, statusFail, fmt.Sprintf("%s: redirected (%s) to %q", what, resp.Status, resp.Header.Get("Location")),
			"the validator does not follow redirects: give --hanko-url as the URL Hanko answers at")
	case resp.StatusCode == http.StatusNotFound:
		fix := "--hanko-url must be Hanko's public API base URL with any path prefix your proxy adds (such as https://<project>.hanko.io or https://example.com/hanko)"
		if found := d.findPrefix(ctx); found != "" {
			fix = "Hanko's API answers at " + found + ": use --hanko-url " + found
		}
		d.add(check, statusFail, fmt.Sprintf("%s: 404 Not Found: a server answers at this host, but Hanko's API is not at this path (a wrong path prefix, not a Hanko outage)", what), fix)
	case resp.StatusCode >= 500:
		d.add(check, statusFail, fmt.Sprintf("%s: %s: Hanko (or a proxy in front of it) is up but failing", what, resp.Status),
			"check Hanko's logs and its database; while this lasts, sessions cannot be confirmed (see --hanko-outage)")
	default:
		d.add(check, statusFail, fmt.Sprintf("%s: unexpected %s", what, resp.Status), "is --hanko-url Hanko's public API (not its admin API or the frontend)?")
	}
}

// findPrefix looks for Hanko's JWKS at the ancestors of the URL's path,
// for a URL with a path prefix too many. It returns the base URL found.
func (d *doctor) findPrefix(ctx context.Context) string {
	p := d.base.Path
	for p != "" {
		i := strings.LastIndex(p, "/")
		p = p[:max(i, 0)]
		u := *d.base
		u.Path = p
		resp, _, _, err := d.do(ctx, http.MethodGet, u.String()+"/.well-known/jwks.json", "")
		if err == nil && resp.StatusCode == http.StatusOK {
			return u.String()
		}
	}
	return ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func (d *doctor) checkJWKS(ctx context.Context) {
	url := d.endpoint("/.well-known/jwks.json")
	before := d.now()
	resp, data, elapsed, err := d.do(ctx, http.MethodGet, url, "")
	if err != nil || resp.StatusCode != http.StatusOK {
		d.httpFailure(ctx, "jwks", "GET "+url, resp, err)
		if resp != nil {
			d.checkClock(resp, before, elapsed)
		}
		return
	}
	d.hankoUp = true
	defer d.checkClock(resp, before, elapsed)
	if cc := resp.Header.Get("Cache-Control"); strings.Contains(strings.ToLower(cc), "max-age=") {
		d.add("jwks.cache-control", statusPass, "Cache-Control: "+cc+" (the validator refreshes the keys after it, at least every 30 s)", "")
	} else {
		d.add("jwks.cache-control", statusWarn, fmt.Sprintf("no max-age in Cache-Control (%q): the keys are refreshed every 10 minutes", cc),
			"a proxy in front of Hanko may strip the header; key rotations are still picked up on an unknown kid")
	}
	keys, err := hankoauth.InspectJWKS(data)
	if err != nil {
		d.add("jwks", statusFail, fmt.Sprintf("GET %s: 200, but not a JWKS: %v", url, err), "is --hanko-url Hanko's public API?")
		return
	}
	usable := 0
	for _, k := range keys {
		desc := fmt.Sprintf("key %q: %s", k.KeyID, k.Type)
		if k.Bits > 0 {
			desc += fmt.Sprintf(" %d bits", k.Bits)
		}
		if k.Alg != "" {
			desc += ", alg " + k.Alg
		}
		if k.Problem == "" {
			usable++
			d.add("jwks.key", statusPass, desc, "")
			continue
		}
		fix := "remove the key from Hanko's secrets.keys"
		switch {
		case strings.Contains(k.Problem, "duplicate"):
			fix = "every key in the set needs its own kid: remove the duplicate (tokens under this kid are rejected as KEY_UNKNOWN)"
		case strings.Contains(k.Problem, "weak"):
			fix = "rotate to an RSA key of at least 2048 bits (Hanko generates 4096) and remove this one"
		}
		d.add("jwks.key", statusFail, desc+": not used: "+k.Problem, fix)
	}
	if usable == 0 {
		d.add("jwks", statusFail, fmt.Sprintf("GET %s: 200 in %v, but no usable signing key among %d", url, elapsed.Round(time.Millisecond), len(keys)),
			"Hanko must publish at least one RSA (2048+ bits) or ECDSA signing key")
		return
	}
	d.jwksOK = true
	d.add("jwks", statusPass, fmt.Sprintf("GET %s: 200 in %v, %d usable key(s) of %d", url, elapsed.Round(time.Millisecond), usable, len(keys)), "")
}

// checkClock compares Hanko's Date header with this machine's clock at
// the middle of the request.
func (d *doctor) checkClock(resp *http.Response, before time.Time, elapsed time.Duration) {
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		d.add("clock", statusSkip, "Hanko's answer has no Date header to compare clocks with", "")
		return
	}
	local := before.Add(elapsed / 2)
	// Date has a resolution of one second.
	skew := date.Sub(local.Truncate(time.Second))
	leeway := hankoauth.DefaultLeeway
	msg := fmt.Sprintf("Hanko's clock is %v %s this machine's (leeway %v)", skew.Abs().Round(time.Second), map[bool]string{true: "ahead of", false: "behind"}[skew >= 0], leeway)
	fix := "synchronise the clocks (NTP) of this machine and Hanko's host"
	switch {
	case skew.Abs() > leeway:
		d.add("clock", statusFail, msg+": fresh tokens are rejected as TOKEN_NOT_YET_VALID or expire early", fix)
	case skew.Abs() > 5*time.Second:
		d.add("clock", statusWarn, msg, fix)
	default:
		d.add("clock", statusPass, msg, "")
	}
}

func (d *doctor) checkValidate(ctx context.Context) {
	url := d.endpoint("/sessions/validate")
	var lat []time.Duration
	for range d.cfg.calls {
		resp, data, elapsed, err := d.do(ctx, http.MethodPost, url, `{"session_token":""}`)
		if err != nil || resp.StatusCode != http.StatusBadRequest {
			if err == nil && resp.StatusCode == http.StatusOK {
				d.add("validate", statusFail, fmt.Sprintf("POST %s with an empty token: 200 %s; Hanko answers 400", url, truncate(data, 80)),
					"is --hanko-url Hanko's public API?")
				return
			}
			d.httpFailure(ctx, "validate", "POST "+url, resp, err)
			return
		}
		lat = append(lat, elapsed)
	}
	d.hankoUp = true
	slices.Sort(lat)
	p50 := lat[(len(lat)-1)/2]
	p95 := lat[(len(lat)*95+99)/100-1]
	msg := fmt.Sprintf("POST %s answers 400 to an empty token, as Hanko does; latency p50 %v, p95 %v over %d calls",
		url, p50.Round(100*time.Microsecond), p95.Round(100*time.Microsecond), len(lat))
	if p95 > time.Second {
		d.add("validate", statusWarn, msg, "slow: every cache miss waits this long; check Hanko's load and its database, or raise --revalidate-after")
		return
	}
	d.add("validate", statusPass, msg, "")
}

func truncate(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// docClaims are the claims doctor reads from a token.
type docClaims struct {
	jwt.Claims
	SessionID string `json:"session_id"`
	Email     *struct {
		Address    string `json:"address"`
		IsVerified bool   `json:"is_verified"`
	} `json:"email"`
	AMR []string `json:"amr"`
}

func (d *doctor) checkToken(ctx context.Context) {
	if d.cfg.token == "" {
		d.add("token", statusSkip, "no token given (--token or stdin): the token checks did not run", "")
		return
	}
	tok, err := jwt.ParseSigned(d.cfg.token, []jose.SignatureAlgorithm{
		jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512,
	})
	if err != nil || len(tok.Headers) != 1 {
		d.add("token", statusFail, "not a signed JWT with an RSA or ECDSA algorithm", "give the session token itself (the hanko cookie, or the X-Auth-Token header of Hanko's login answer)")
		return
	}
	var c docClaims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		d.add("token", statusFail, "its claims are not valid JSON claims", "give the session token itself")
		return
	}
	s := &tokenSummary{Alg: tok.Headers[0].Algorithm, KeyID: tok.Headers[0].KeyID, Subject: c.Subject, SessionID: c.SessionID,
		Audience: c.Audience, Issuer: c.Issuer, AMR: c.AMR}
	if c.IssuedAt != nil {
		s.IssuedAt = c.IssuedAt.Time().UTC()
	}
	if c.Expiry != nil {
		s.ExpiresAt = c.Expiry.Time().UTC()
	}
	if c.Email != nil {
		v := c.Email.IsVerified
		s.Email, s.EmailVerified = c.Email.Address, &v
	}
	d.token = s
	now, leeway := d.now(), hankoauth.DefaultLeeway

	switch {
	case s.ExpiresAt.IsZero():
		d.add("token.exp", statusFail, "no exp: the validator rejects tokens without an expiry", "give a Hanko session token")
	case now.After(s.ExpiresAt.Add(leeway)):
		d.add("token.exp", statusFail, fmt.Sprintf("expired at %s (%v ago)", s.ExpiresAt.Format(time.RFC3339), now.Sub(s.ExpiresAt).Round(time.Second)), "log in again for a fresh token")
	default:
		d.add("token.exp", statusPass, fmt.Sprintf("expires at %s (in %v)", s.ExpiresAt.Format(time.RFC3339), s.ExpiresAt.Sub(now).Round(time.Second)), "")
	}
	if !s.IssuedAt.IsZero() {
		if now.Add(leeway).Before(s.IssuedAt) {
			d.add("token.iat", statusFail, fmt.Sprintf("issued at %s, %v in the future", s.IssuedAt.Format(time.RFC3339), s.IssuedAt.Sub(now).Round(time.Second)),
				"this machine's clock is behind Hanko's: synchronise them (NTP)")
		} else {
			d.add("token.iat", statusPass, fmt.Sprintf("issued at %s (%v ago)", s.IssuedAt.Format(time.RFC3339), now.Sub(s.IssuedAt).Round(time.Second)), "")
		}
	}
	if s.SessionID == "" || s.Subject == "" {
		d.add("token.session_id", statusFail, "no session_id or sub: a Hanko webhook token or another JWT signed with Hanko's key, not a session token",
			"send the session token (the hanko cookie, or the X-Auth-Token header of Hanko's login answer)")
	} else {
		d.add("token.session_id", statusPass, "session "+s.SessionID+" of user "+s.Subject, "")
	}
	d.checkTokenAudience(s)
	d.checkTokenIssuer(s)
	if d.jwksOK {
		d.checkTokenLocal(ctx)
	} else {
		d.add("token.signature", statusSkip, "no usable JWKS: the signature was not checked", "")
	}
	if d.hankoUp {
		d.checkTokenHanko(ctx)
	} else {
		d.add("token.hanko", statusSkip, "Hanko did not answer: its verdict was not asked", "")
	}
}

func (d *doctor) checkTokenAudience(s *tokenSummary) {
	switch {
	case len(d.cfg.audience) > 0 && !slices.ContainsFunc(s.Audience, func(a string) bool { return slices.Contains(d.cfg.audience, a) }):
		fix := "the token names no audience: drop --audience, or set Hanko's webauthn.relying_party.id"
		if len(s.Audience) > 0 {
			fix = "use --audience " + strings.Join(s.Audience, ",") + " (Hanko's webauthn.relying_party.id), or change Hanko's"
		}
		d.add("token.aud", statusFail, fmt.Sprintf("aud %v does not name any of --audience %v: rejected as AUDIENCE_MISMATCH", s.Audience, []string(d.cfg.audience)), fix)
	case len(d.cfg.audience) > 0:
		d.add("token.aud", statusPass, fmt.Sprintf("aud %v matches --audience", s.Audience), "")
	case len(s.Audience) > 0:
		d.flags = append(d.flags, "--audience "+strings.Join(s.Audience, ","))
		d.add("token.aud", statusPass, fmt.Sprintf("aud %v; any audience is accepted without --audience", s.Audience), "")
	default:
		d.add("token.aud", statusPass, "no aud; --audience is not set either", "")
	}
}

func (d *doctor) checkTokenIssuer(s *tokenSummary) {
	switch {
	case d.cfg.issuer != "" && s.Issuer != d.cfg.issuer:
		fix := "the token has no iss: drop --issuer, or set Hanko's session.issuer"
		if s.Issuer != "" {
			fix = "use --issuer " + s.Issuer + " (Hanko's session.issuer)"
		}
		d.add("token.iss", statusFail, fmt.Sprintf("iss %q is not --issuer %q: rejected as ISSUER_MISMATCH", s.Issuer, d.cfg.issuer), fix)
	case d.cfg.issuer != "":
		d.add("token.iss", statusPass, fmt.Sprintf("iss %q matches --issuer", s.Issuer), "")
	case s.Issuer != "":
		d.flags = append(d.flags, "--issuer "+s.Issuer)
		d.add("token.iss", statusPass, fmt.Sprintf("iss %q; any issuer is accepted without --issuer", s.Issuer), "")
	}
}

// checkTokenLocal verifies the token as serve would in local mode, with
// the flags' audience and issuer.
func (d *doctor) checkTokenLocal(ctx context.Context) {
	v, err := hankoauth.New(hankoauth.Config{
		APIURL:         d.base.String(),
		Mode:           hankoauth.ModeLocal,
		Audience:       d.cfg.audience,
		Issuer:         d.cfg.issuer,
		CacheSize:      -1,
		HTTPClient:     d.client,
		RequestTimeout: d.cfg.timeout,
	})
	if err != nil {
		d.add("token.signature", statusFail, err.Error(), "")
		return
	}
	defer v.Close()
	wctx, cancel := context.WithTimeout(ctx, d.cfg.timeout)
	defer cancel()
	if err := v.WaitReady(wctx); err != nil {
		d.add("token.signature", statusSkip, "the validator could not load the JWKS in time", "")
		return
	}
	_, err = v.Validate(wctx, d.cfg.token)
	reason := hankoauth.ReasonOf(err)
	switch {
	case err == nil:
		d.add("token.signature", statusPass, "verifies locally against the JWKS, with --audience and --issuer", "")
	case errors.Is(err, hankoauth.ErrUnavailable):
		d.add("token.signature", statusSkip, "could not be checked: "+string(reason), "")
	default:
		d.add("token.signature", statusFail, "local verification rejects it: "+string(reason), reasonFix(reason))
	}
}

// reasonFix is the advice for a rejection reason.
func reasonFix(r hankoauth.Reason) string {
	switch r {
	case hankoauth.ReasonUnknownKey:
		return "the token comes from another Hanko deployment, or its key is not (or not uniquely) in this Hanko's JWKS: check --hanko-url"
	case hankoauth.ReasonSignature:
		return "forged or tampered token, or a token of another deployment whose key reuses a kid: check --hanko-url"
	case hankoauth.ReasonExpired:
		return "log in again; if the token is fresh, synchronise the clocks"
	case hankoauth.ReasonNotYetValid:
		return "this machine's clock is behind Hanko's: synchronise them (NTP)"
	case hankoauth.ReasonAudience:
		return "set --audience to the token's aud"
	case hankoauth.ReasonIssuer:
		return "set --issuer to the token's iss"
	case hankoauth.ReasonNotSessionToken:
		return "send the session token, not a webhook token"
	}
	return "see the README's troubleshooting table for " + string(r)
}

// checkTokenHanko asks Hanko about the token, as hybrid and remote mode do.
func (d *doctor) checkTokenHanko(ctx context.Context) {
	body, _ := json.Marshal(map[string]string{"session_token": d.cfg.token})
	url := d.endpoint("/sessions/validate")
	resp, data, _, err := d.do(ctx, http.MethodPost, url, string(body))
	if err != nil || resp.StatusCode != http.StatusOK {
		if err == nil && resp.StatusCode == http.StatusBadRequest {
			d.add("token.hanko", statusFail, "Hanko answered 400: it does not read this as a token", "give the session token itself")
			return
		}
		d.httpFailure(ctx, "token.hanko", "POST "+url, resp, err)
		return
	}
	var ans struct {
		IsValid *bool `json:"is_valid"`
	}
	if json.Unmarshal(data, &ans) != nil || ans.IsValid == nil {
		d.add("token.hanko", statusFail, "Hanko's answer has no is_valid: "+truncate(data, 80), "is --hanko-url Hanko's public API?")
		return
	}
	if !*ans.IsValid {
		d.add("token.hanko", statusFail, "Hanko says the session is not valid (logged out, revoked, idle, expired, or a token of another Hanko)",
			"log in again; if the token is fresh, check that --hanko-url is the Hanko that issued it")
		return
	}
	d.add("token.hanko", statusPass, "Hanko says the session is valid", "")
}

// writeDoctorText prints the report for people.
func writeDoctorText(w io.Writer, rep doctorReport) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "hanko-authz doctor: %s\n\n", rep.HankoURL)
	width := 0
	for _, f := range rep.Findings {
		width = max(width, len(f.Check))
	}
	failed := 0
	for _, f := range rep.Findings {
		fmt.Fprintf(&b, "%s %-*s  %s\n", statusMark[f.Status], width, f.Check, f.Message)
		if f.Fix != "" && f.Status != statusPass {
			fmt.Fprintf(&b, "  %*s  fix: %s\n", width, "", f.Fix)
		}
		if f.Status == statusFail {
			failed++
		}
	}
	if t := rep.Token; t != nil {
		b.WriteString("\nToken claims (the token and its signature are not shown):\n")
		fmt.Fprintf(&b, "  alg %s, kid %s\n", t.Alg, t.KeyID)
		fmt.Fprintf(&b, "  sub %s, session_id %s\n", orNone(t.Subject), orNone(t.SessionID))
		fmt.Fprintf(&b, "  aud %v, iss %s\n", t.Audience, orNone(t.Issuer))
		if !t.IssuedAt.IsZero() || !t.ExpiresAt.IsZero() {
			fmt.Fprintf(&b, "  iat %s, exp %s\n", t.IssuedAt.Format(time.RFC3339), t.ExpiresAt.Format(time.RFC3339))
		}
		if t.Email != "" {
			fmt.Fprintf(&b, "  email %s (verified %v)\n", t.Email, *t.EmailVerified)
		}
		if len(t.AMR) > 0 {
			fmt.Fprintf(&b, "  amr %v\n", t.AMR)
		}
	}
	if len(rep.RecommendedFlags) > 0 {
		fmt.Fprintf(&b, "\nRecommended flags for serve: %s\n", strings.Join(rep.RecommendedFlags, " "))
	}
	if failed == 0 {
		b.WriteString("\nAll checks passed.\n")
	} else {
		fmt.Fprintf(&b, "\n%d check(s) failed.\n", failed)
	}
	w.Write(b.Bytes())
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
