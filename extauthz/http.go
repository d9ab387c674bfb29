package extauthz

import (
	"io"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/hankoauth/hankoauth"
)

// HTTPHandler serves the server's decisions over plain HTTP, for Envoy's
// ext_authz http_service and for auth_request-style proxies (nginx
// auth_request, Traefik forwardAuth, Caddy forward_auth). prefix is the
// path the handler is mounted at ("/authz", or "" for the root).
//
// The original request is found as follows. Envoy's http_service appends
// the original path to its path_prefix: a request path that goes on after
// prefix ("/authz/api/x") is the original path ("/api/x"), and the method
// is the request's own. A request for prefix itself ("/authz" or
// "/authz/") comes from a proxy that names the original request in
// headers: the path is X-Forwarded-Uri, else X-Original-URI, else "/";
// the method X-Forwarded-Method, else X-Original-Method, else the
// request's. The proxy must set those headers itself, replacing any value
// the client sent (nginx proxy_set_header and Traefik forwardAuth do).
//
// The answer is 200 with the identity headers (and
// x-envoy-auth-headers-to-remove listing the headers the upstream must
// not get), or 401, 403 or 503 with the same headers and body as a
// denial of Check. In HTTP mode Hanko being unavailable is always a 503,
// whatever the FailureMode.
func (s *Server) HTTPHandler(prefix string) http.Handler {
	prefix = strings.TrimRight(prefix, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := request{edge: edgeHTTP, headers: hankoauth.HTTPHeaderLookup(r.Header)}
		req.method, req.path = original(r, prefix)
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
// query) of the request that r asks about.
func original(r *http.Request, prefix string) (method, path string) {
	p := r.URL.EscapedPath()
	if rest, ok := strings.CutPrefix(p, prefix); ok && len(rest) > 1 && rest[0] == '/' {
		if r.URL.RawQuery != "" {
			rest += "?" + r.URL.RawQuery
		}
		return r.Method, rest
	}
	method = firstHeader(r.Header, "X-Forwarded-Method", "X-Original-Method")
	if method == "" {
		method = r.Method
	}
	path = firstHeader(r.Header, "X-Forwarded-Uri", "X-Original-Uri")
	if path == "" {
		path = "/"
	}
	return method, path
}

// firstHeader returns the first non-empty value among the headers names.
func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}
