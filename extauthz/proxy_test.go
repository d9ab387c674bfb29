package extauthz

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestProxyHandlerForgedHeaders sends, for each proxy mode, client-forged
// variants of every header the handler reads. Only the one source the
// mode names may make a request public; everything else needs a session
// (no token is sent, so a request that is not public is a 401).
func TestProxyHandlerForgedHeaders(t *testing.T) {
	f := newFixture(t)
	s := mustServer(f.v, WithPublicPaths("/public/"), WithPublicHTTPMethods("OPTIONS"))
	mux := http.NewServeMux()
	for pattern, h := range map[string]http.Handler{
		"/authz":  s.HTTPHandler("/authz"),
		"/authz/": s.HTTPHandler("/authz"),
		"/nginx":  s.ProxyHandler(ProxyNginx, "/nginx"),
		"/nginx/": s.ProxyHandler(ProxyNginx, "/nginx"),
		"/fa":     s.ProxyHandler(ProxyForwardAuth, "/fa"),
		"/fa/":    s.ProxyHandler(ProxyForwardAuth, "/fa"),
		"/":       s.HTTPHandler(""),
	} {
		mux.Handle(pattern, h)
	}
	ts := httptest.NewServer(mux)
	defer ts.Close()

	type hdr [2]string
	tests := []struct {
		name   string
		method string
		path   string
		header []hdr
		want   int
	}{
		// Envoy http_service: the path after the prefix, the request's method.
		{name: "envoy public path", path: "/authz/public/x", want: 200},
		{name: "envoy public method", method: "OPTIONS", path: "/authz/admin", want: 200},
		{name: "envoy private", path: "/authz/admin", want: 401},
		{name: "envoy forwarded uri", path: "/authz/admin", header: []hdr{{"X-Forwarded-Uri", "/public/x"}}, want: 401},
		{name: "envoy original uri", path: "/authz/admin", header: []hdr{{"X-Original-Uri", "/public/x"}}, want: 401},
		{name: "envoy forwarded method", path: "/authz/admin", header: []hdr{{"X-Forwarded-Method", "OPTIONS"}}, want: 401},
		{name: "envoy original method", path: "/authz/admin", header: []hdr{{"X-Original-Method", "OPTIONS"}}, want: 401},
		{name: "envoy root forwarded uri", path: "/authz/", header: []hdr{{"X-Forwarded-Uri", "/public/x"}}, want: 401},
		{name: "envoy bare prefix forwarded uri", path: "/authz", header: []hdr{{"X-Forwarded-Uri", "/public/x"}}, want: 401},
		{name: "envoy root original uri", path: "/authz/", header: []hdr{{"X-Original-Uri", "/public/x"}}, want: 401},
		{name: "envoy root forwarded method", path: "/authz/", header: []hdr{{"X-Forwarded-Method", "OPTIONS"}}, want: 401},
		{name: "envoy root original method", path: "/authz/", header: []hdr{{"X-Original-Method", "OPTIONS"}}, want: 401},
		{name: "envoy at the root, forwarded uri", path: "/", header: []hdr{{"X-Forwarded-Uri", "/public/x"}}, want: 401},
		{name: "envoy at the root, public", path: "/public/x", want: 200},

		// nginx auth_request: X-Original-URI and X-Original-Method only.
		{name: "nginx public path", path: "/nginx", header: []hdr{{"X-Original-Uri", "/public/x"}, {"X-Original-Method", "GET"}}, want: 200},
		{name: "nginx public method", path: "/nginx", header: []hdr{{"X-Original-Uri", "/admin"}, {"X-Original-Method", "OPTIONS"}}, want: 200},
		{name: "nginx private", path: "/nginx", header: []hdr{{"X-Original-Uri", "/admin"}, {"X-Original-Method", "GET"}}, want: 401},
		{name: "nginx forwarded uri", path: "/nginx", header: []hdr{{"X-Original-Uri", "/admin"}, {"X-Forwarded-Uri", "/public/x"}}, want: 401},
		{name: "nginx forwarded uri alone", path: "/nginx", header: []hdr{{"X-Forwarded-Uri", "/public/x"}}, want: 401},
		{name: "nginx forwarded method", path: "/nginx", header: []hdr{{"X-Original-Uri", "/admin"}, {"X-Forwarded-Method", "OPTIONS"}}, want: 401},
		{name: "nginx request path", path: "/nginx/public/x", header: []hdr{{"X-Original-Uri", "/admin"}}, want: 401},
		{name: "nginx request method", method: "OPTIONS", path: "/nginx", header: []hdr{{"X-Original-Uri", "/admin"}}, want: 401},
		{name: "nginx uri twice", path: "/nginx", header: []hdr{{"X-Original-Uri", "/public/x"}, {"X-Original-Uri", "/admin"}}, want: 401},
		{name: "nginx method twice", path: "/nginx", header: []hdr{{"X-Original-Uri", "/admin"}, {"X-Original-Method", "OPTIONS"}, {"X-Original-Method", "GET"}}, want: 401},
		{name: "nginx no uri", path: "/nginx", want: 401},

		// Traefik/Caddy forward-auth: X-Forwarded-Uri and X-Forwarded-Method only.
		{name: "forward-auth public path", path: "/fa", header: []hdr{{"X-Forwarded-Uri", "/public/x"}, {"X-Forwarded-Method", "GET"}}, want: 200},
		{name: "forward-auth public method", path: "/fa", header: []hdr{{"X-Forwarded-Uri", "/admin"}, {"X-Forwarded-Method", "OPTIONS"}}, want: 200},
		{name: "forward-auth private", path: "/fa", header: []hdr{{"X-Forwarded-Uri", "/admin"}, {"X-Forwarded-Method", "GET"}}, want: 401},
		{name: "forward-auth original uri", path: "/fa", header: []hdr{{"X-Forwarded-Uri", "/admin"}, {"X-Original-Uri", "/public/x"}}, want: 401},
		{name: "forward-auth original uri alone", path: "/fa", header: []hdr{{"X-Original-Uri", "/public/x"}}, want: 401},
		{name: "forward-auth original method", path: "/fa", header: []hdr{{"X-Forwarded-Uri", "/admin"}, {"X-Original-Method", "OPTIONS"}}, want: 401},
		{name: "forward-auth request path", path: "/fa/public/x", header: []hdr{{"X-Forwarded-Uri", "/admin"}}, want: 401},
		{name: "forward-auth request method", method: "OPTIONS", path: "/fa", header: []hdr{{"X-Forwarded-Uri", "/admin"}}, want: 401},
		{name: "forward-auth uri twice", path: "/fa", header: []hdr{{"X-Forwarded-Uri", "/public/x"}, {"X-Forwarded-Uri", "/admin"}}, want: 401},
		{name: "forward-auth no uri", path: "/fa", want: 401},
		{name: "forward-auth traversal", path: "/fa", header: []hdr{{"X-Forwarded-Uri", "/public/../admin"}}, want: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, ts.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range tt.header {
				req.Header.Add(h[0], h[1])
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

func TestParseProxy(t *testing.T) {
	for in, want := range map[string]Proxy{"envoy": ProxyEnvoy, "nginx": ProxyNginx, "forward-auth": ProxyForwardAuth, "Traefik": ProxyForwardAuth, "caddy": ProxyForwardAuth} {
		if got, err := ParseProxy(in); err != nil || got != want {
			t.Errorf("ParseProxy(%q) = %v, %v; want %v", in, got, err, want)
		}
		if got, _ := ParseProxy(want.String()); got != want {
			t.Errorf("ParseProxy(%v.String()) = %v", want, got)
		}
	}
	if _, err := ParseProxy("apache"); err == nil {
		t.Error("ParseProxy(apache) accepted")
	}
}
