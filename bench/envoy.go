package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// findEnvoy returns the Envoy binary: $HANKOAUTH_ENVOY, else envoy on the
// PATH, else the one scripts/install-envoy.sh installs; "" when none.
func findEnvoy() string {
	if p := os.Getenv("HANKOAUTH_ENVOY"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}
	if p, err := exec.LookPath("envoy"); err == nil {
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	for _, p := range []string{
		filepath.Join(cache, "hankoauth", "envoy-1.40.0", "bin", "envoy"),
		filepath.Join(cache, "hankoauth", "envoy-1.40.0", "venv", "bin", "envoy"),
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// envoyFilter is the auth filter of one Envoy variant.
type envoyFilter struct {
	filter   string // YAML of the http_filters entries before the router, "" for none
	clusters string // YAML of the clusters it needs
}

func hostPort(addr string) (string, string) {
	h, p, _ := net.SplitHostPort(addr)
	return h, p
}

func cluster(name, addr string, h2 bool) string {
	h, p := hostPort(addr)
	proto := ""
	if h2 {
		proto = `
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options: {}`
	}
	return fmt.Sprintf(`
  - name: %s
    type: STATIC
    connect_timeout: 1s%s
    load_assignment:
      cluster_name: %s
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: {address: %s, port_value: %s}`, name, proto, name, h, p)
}

// extAuthzGRPC is Envoy's ext_authz filter calling addr over gRPC, as
// deploy/envoy/envoy.yaml configures it.
func extAuthzGRPC(addr string) envoyFilter {
	return envoyFilter{
		filter: `
          - name: envoy.filters.http.ext_authz
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
              transport_api_version: V3
              failure_mode_allow: false
              status_on_error: {code: ServiceUnavailable}
              grpc_service:
                envoy_grpc: {cluster_name: authz}
                timeout: 0.5s`,
		clusters: cluster("authz", addr, true),
	}
}

// extAuthzHTTP is Envoy's ext_authz filter in HTTP mode, calling
// hanko-authz's /authz handler.
func extAuthzHTTP(addr string) envoyFilter {
	return envoyFilter{
		filter: `
          - name: envoy.filters.http.ext_authz
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
              transport_api_version: V3
              failure_mode_allow: false
              status_on_error: {code: ServiceUnavailable}
              http_service:
                server_uri: {uri: "http://` + addr + `", cluster: authz, timeout: 0.5s}
                path_prefix: /authz
                authorization_request:
                  allowed_headers:
                    patterns: [{exact: authorization, ignore_case: true}, {exact: cookie, ignore_case: true}]
                authorization_response:
                  allowed_upstream_headers:
                    patterns: [{prefix: x-hanko-, ignore_case: true}]`,
		clusters: cluster("authz", addr, false),
	}
}

// jwtAuthn is Envoy's own JWT filter on the same tokens: RS256 against
// Hanko's JWKS (inline), from the bearer header or the hanko cookie. It
// cannot see revocations.
func jwtAuthn(jwks string) envoyFilter {
	return envoyFilter{
		filter: `
          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              providers:
                hanko:
                  local_jwks:
                    inline_string: '` + strings.ReplaceAll(jwks, "'", "''") + `'
                  from_headers: [{name: Authorization, value_prefix: "Bearer "}]
                  from_cookies: [hanko]
                  forward: true
              rules:
              - match: {prefix: /}
                requires: {provider_name: hanko}`,
	}
}

// envoyConfig is a bootstrap listening on listen that answers 200 itself
// (direct_response) after f's filter: the cost measured is Envoy's and the
// auth's, not an upstream's.
func envoyConfig(listen string, f envoyFilter) string {
	h, p := hostPort(listen)
	clusters := "  clusters: []"
	if f.clusters != "" {
		clusters = "  clusters:" + f.clusters
	}
	return fmt.Sprintf(`static_resources:
  listeners:
  - name: ingress
    address:
      socket_address: {address: %s, port_value: %s}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          normalize_path: true
          merge_slashes: true
          route_config:
            virtual_hosts:
            - name: app
              domains: ["*"]
              routes:
              - match: {prefix: /}
                direct_response: {status: 200, body: {inline_string: ok}}
          http_filters:%s
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
%s
`, h, p, f.filter, clusters)
}
