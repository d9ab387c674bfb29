package attack

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/extauthz"
	"github.com/hankoauth/hankoauth/hankotest"
	"github.com/hankoauth/hankoauth/interceptor"
)

// quiet discards the edges' logs: the suite's denials are expected.
var quiet = slog.New(slog.DiscardHandler)

// noRedirects is an HTTP client that, like Envoy, never follows an
// authorization server's redirect.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// env is a fake Hanko (that can be told to misbehave) and every edge in
// front of one validator that trusts it.
type env struct {
	hanko *hankotest.Hanko
	url   string
	// misbehave, when set, answers requests to Hanko instead of the fake;
	// it returns false to let the fake answer.
	misbehave atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]

	v       *hankoauth.Validator
	authz   *extauthz.Server
	httpURL string // the HTTP handler, Envoy mode, at /authz
	conn    *grpc.ClientConn
}

// newEnv starts the fake Hanko and the edges. Public paths are /public/.
func newEnv(t testing.TB, cfg func(*hankoauth.Config), misbehave func(w http.ResponseWriter, r *http.Request) bool) *env {
	t.Helper()
	h, err := hankotest.New()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{hanko: h}
	if misbehave != nil {
		e.misbehave.Store(&misbehave)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := e.misbehave.Load(); f != nil && (*f)(w, r) {
			return
		}
		h.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	e.url = hs.URL
	c := hankoauth.Config{APIURL: hs.URL, RequestTimeout: 500 * time.Millisecond, RevalidateAfter: time.Minute}
	if cfg != nil {
		cfg(&c)
	}
	if e.v, err = hankoauth.New(c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.v.Close() })
	if c.Mode != hankoauth.ModeRemote {
		waitReady(t, e.v)
	}

	if e.authz, err = extauthz.NewServer(e.v, extauthz.WithPublicPaths("/public/")); err != nil {
		t.Fatal(err)
	}
	// As hanko-authz mounts it: every /authz path reaches the handler as
	// sent, without ServeMux's cleaning and redirects.
	ts := httptest.NewServer(e.authz.HTTPHandler("/authz"))
	t.Cleanup(ts.Close)
	e.httpURL = ts.URL

	lis := bufconn.Listen(1 << 20)
	authn, err := interceptor.New(e.v, interceptor.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.UnaryInterceptor(authn.Unary()), grpc.StreamInterceptor(authn.Stream()))
	healthpb.RegisterHealthServer(g, health.NewServer()) // guarded here: not public
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	e.conn, err = grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.conn.Close() })
	return e
}

// setMisbehave makes Hanko answer with f until the test ends.
func (e *env) setMisbehave(t testing.TB, f func(w http.ResponseWriter, r *http.Request) bool) {
	e.misbehave.Store(&f)
	t.Cleanup(func() { e.misbehave.Store(nil) })
}

// verdict is what an edge answered.
type verdict struct {
	allowed bool
	reason  hankoauth.Reason // of a denial
}

func (v verdict) String() string {
	if v.allowed {
		return "allowed"
	}
	return "denied " + string(v.reason)
}

// req is a request as every edge sees it: headers (lower-case names,
// repeatable), and for Check optionally a headers map that Envoy filled
// besides header_map.
type req struct {
	headers  [][2]string
	checkMap map[string]string // Check only: the headers map (header_map holds headers)
	path     string            // default /api/orders
}

func bearerReq(token string) req {
	return req{headers: [][2]string{{"authorization", "Bearer " + token}}}
}

func (r req) target() string {
	if r.path == "" {
		return "/api/orders"
	}
	return r.path
}

// The edges.
const (
	edgeValidator   = "validator"
	edgeInterceptor = "interceptor"
	edgeStream      = "stream interceptor"
	edgeCheck       = "check"
	edgeHTTP        = "http"
)

var allEdges = []string{edgeValidator, edgeInterceptor, edgeStream, edgeCheck, edgeHTTP}

// send sends r through edge and returns the verdict.
func (e *env) send(t testing.TB, edge string, r req) verdict {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch edge {
	case edgeValidator:
		// What the edges' extractor would find, then Validate.
		token, err := hankoauth.Extractor{}.Extract(func(name string) []string {
			var out []string
			for _, h := range r.headers {
				if h[0] == name {
					out = append(out, h[1])
				}
			}
			return out
		})
		if err == nil {
			_, err = e.v.Validate(ctx, token)
		}
		if err == nil {
			return verdict{allowed: true}
		}
		return verdict{reason: hankoauth.ReasonOf(err)}
	case edgeInterceptor, edgeStream:
		md := metadata.MD{}
		for _, h := range r.headers {
			md.Append(h[0], h[1])
		}
		ctx := metadata.NewOutgoingContext(ctx, md)
		var err error
		if edge == edgeInterceptor {
			_, err = healthpb.NewHealthClient(e.conn).Check(ctx, &healthpb.HealthCheckRequest{})
		} else {
			var w grpc.ServerStreamingClient[healthpb.HealthCheckResponse]
			if w, err = healthpb.NewHealthClient(e.conn).Watch(ctx, &healthpb.HealthCheckRequest{}); err == nil {
				_, err = w.Recv()
			}
		}
		if err == nil {
			return verdict{allowed: true}
		}
		st := status.Convert(err)
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				return verdict{reason: hankoauth.Reason(info.GetReason())}
			}
		}
		t.Fatalf("interceptor denial without ErrorInfo: %v", err)
	case edgeCheck:
		h := &authv3.AttributeContext_HttpRequest{Method: "GET", Path: r.target(), Headers: r.checkMap}
		if len(r.headers) > 0 {
			h.HeaderMap = &corev3.HeaderMap{}
			for _, kv := range r.headers {
				h.HeaderMap.Headers = append(h.HeaderMap.Headers, &corev3.HeaderValue{Key: kv[0], RawValue: []byte(kv[1])})
			}
		}
		resp, err := e.authz.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: h}}})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if codes.Code(resp.GetStatus().GetCode()) == codes.OK {
			return verdict{allowed: true}
		}
		return verdict{reason: hankoauth.Reason(resp.GetDynamicMetadata().GetFields()["reason"].GetStringValue())}
	case edgeHTTP:
		hr, err := http.NewRequestWithContext(ctx, http.MethodGet, e.httpURL+"/authz"+r.target(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range r.headers {
			hr.Header.Add(kv[0], kv[1])
		}
		resp, err := noRedirects.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK {
			return verdict{allowed: true}
		}
		var b struct {
			Reason hankoauth.Reason `json:"reason"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatalf("HTTP %d with body %q", resp.StatusCode, body)
		}
		return verdict{reason: b.Reason}
	}
	t.Fatalf("unknown edge %s", edge)
	return verdict{}
}

// want is what a case expects: allowed, or denied for one of reasons.
type want struct {
	allow   bool
	reasons []hankoauth.Reason
}

func deny(reasons ...hankoauth.Reason) want { return want{reasons: reasons} }

var allow = want{allow: true}

// check fails t unless got is what w wants. A wrongly allowed request is
// reported as such, the finding the suite exists for.
func (w want) check(t testing.TB, edge string, got verdict) {
	t.Helper()
	switch {
	case got.allowed && !w.allow:
		t.Errorf("%s: WRONGLY ALLOWED (want denial for %v)", edge, w.reasons)
	case !got.allowed && w.allow:
		t.Errorf("%s: denied %s, want allowed", edge, got.reason)
	case !got.allowed && len(w.reasons) > 0 && !containsReason(w.reasons, got.reason):
		t.Errorf("%s: denied %s, want one of %v", edge, got.reason, w.reasons)
	}
}

func containsReason(rs []hankoauth.Reason, r hankoauth.Reason) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// waitReady waits until v has loaded the JWKS.
func waitReady(t testing.TB, v *hankoauth.Validator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatalf("validator not ready: %v", err)
	}
}
