package extauthz

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/hankoauth/hankoauth"
)

// Proxy names the kind of proxy that calls the HTTP handler, and so the
// one place the handler reads the original request's path and method
// from. It is configuration: the handler never guesses it from the
// headers a request happens to carry, since a client can send any of
// them.
type Proxy int

const (
	// ProxyEnvoy is Envoy's ext_authz http_service: Envoy appends the
	// original path (with its query) to path_prefix and keeps the
	// original method, so the path is the request's own path after the
	// handler's prefix ("/" for the prefix itself) and the method the
	// request's. X-Forwarded-* and X-Original-* headers are ignored.
	ProxyEnvoy Proxy = iota
	// ProxyNginx is nginx auth_request: the path is X-Original-URI and the
	// method X-Original-Method, which the auth location must set with
	// proxy_set_header (replacing what the client sent). X-Forwarded-Uri
	// and X-Forwarded-Method are ignored.
	ProxyNginx
	// ProxyForwardAuth is Traefik's forwardAuth and Caddy's forward_auth:
	// the path is X-Forwarded-Uri and the method X-Forwarded-Method, which
	// both proxies set themselves (Traefik: unless trustForwardHeader is
	// on). X-Original-URI and X-Original-Method are ignored.
	ProxyForwardAuth
)

// String returns the name ParseProxy reads.
func (p Proxy) String() string {
	switch p {
	case ProxyEnvoy:
		return "envoy"
	case ProxyNginx:
		return "nginx"
	case ProxyForwardAuth:
		return "forward-auth"
	}
	return fmt.Sprintf("Proxy(%d)", int(p))
}

// ParseProxy parses "envoy", "nginx" or "forward-auth" (also "traefik"
// and "caddy").
func ParseProxy(s string) (Proxy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "envoy":
		return ProxyEnvoy, nil
	case "nginx":
		return ProxyNginx, nil
	case "forward-auth", "traefik", "caddy":
		return ProxyForwardAuth, nil
	}
	return 0, fmt.Errorf("extauthz: unknown proxy %q (want envoy, nginx or forward-auth)", s)
}

// HTTPHandler is ProxyHandler(ProxyEnvoy, prefix): the handler for
// Envoy's ext_authz http_service, mounted at prefix.
func (s *Server) HTTPHandler(prefix string) http.Handler {
	return s.ProxyHandler(ProxyEnvoy, prefix)
}

// ProxyHandler serves the server's decisions over plain HTTP to the proxy
// p: Envoy's ext_authz http_service, nginx auth_request, or Traefik's and
// Caddy's forward-auth. prefix is the path the handler is mounted at
// ("/authz", or "" for the root); only ProxyEnvoy reads the path after it.
//
// The original request's path and method come from the one source p
// names (see Proxy); every other header that could name them is ignored.
// When the source header is absent the path is unknown, and an unknown
// path or method is never public: the request needs a session.
//
// The answer is 200 with the identity headers (and
// x-envoy-auth-headers-to-remove listing the headers the upstream must
// not get), or 401, 403 or 503 with the same headers and body as a
// denial of Check. In HTTP mode Hanko being unavailable is always a 503,
// whatever the FailureMode.
func (s *Server) ProxyHandler(p Proxy, prefix string) http.Handler {
	switch p {
	case ProxyEnvoy, ProxyNginx, ProxyForwardAuth:
	default:
		panic(fmt.Sprintf("extauthz: unknown proxy %d", int(p)))
	}
	prefix = strings.TrimRight(prefix, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := request{edge: edgeHTTP, headers: hankoauth.HTTPHeaderLookup(r.Header)}
		req.method, req.path = original(r, p, prefix)
		v := s.decide(r.Context(), req)
		a := s.answer(v, req)
		h := w.Header()
		for _, hd := range a.header {
			h.Set(hd.name, hd.value)
		}
		if a.code == codes.OK && len(a.remove) > 0 {
			h.Set("x-envoy-auth-headers-to-remove", strings.Join(a.remove, ", "))
		}
		w.WriteHeader(a.status)
		if a.body != "" && r.Method != http.MethodHead {
			_, _ = io.WriteString(w, a.body)
		}
	})
}

// original returns the method and the path (as sent, possibly with a
// query) of the request that r asks about, from the source p names. An
// unknown path or method is "".
func original(r *http.Request, p Proxy, prefix string) (method, path string) {
	switch p {
	case ProxyNginx:
		return single(r.Header, "X-Original-Method"), single(r.Header, "X-Original-Uri")
	case ProxyForwardAuth:
		return single(r.Header, "X-Forwarded-Method"), single(r.Header, "X-Forwarded-Uri")
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), prefix)
	switch {
	case !ok:
		return r.Method, ""
	case rest == "":
		rest = "/"
	case rest[0] != '/':
		return r.Method, "" // "/authzfoo" is not below "/authz"
	}
	if r.URL.RawQuery != "" {
		rest += "?" + r.URL.RawQuery
	}
	return r.Method, rest
}

// single returns the value of header name when the request carries it
// exactly once, and "" otherwise: a proxy sets it once, and a second value
// can only come from a client trying its luck.
func single(h http.Header, name string) string {
	if v := h.Values(name); len(v) == 1 {
		return v[0]
	}
	return ""
}
