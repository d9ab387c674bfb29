package deploy

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

	// Registered for their side effect only, so that the typed_config Any
	// values naming them resolve during strict decoding.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
)

// The shipped Envoy bootstraps: ext_authz over gRPC, and over HTTP
// (http_service).
const (
	envoyConfig     = "envoy/envoy.yaml"
	envoyHTTPConfig = "envoy/envoy-http.yaml"
)

// publicPathRegex is the public route's match: plain path characters only
// (see the comment in the configs).
const publicPathRegex = "/public/[A-Za-z0-9._~!$&'()*+,=:@/-]*"

var identityHeaders = []string{"x-hanko-user-id", "x-hanko-session-id", "x-hanko-email"}

// loadEnvoy decodes and validates an Envoy bootstrap.
func loadEnvoy(y []byte) (*bootstrapv3.Bootstrap, error) {
	b := &bootstrapv3.Bootstrap{}
	if err := unmarshalProtoYAML(y, b); err != nil {
		return nil, err
	}
	if err := validateDeep(b); err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return b, nil
}

// checkEnvoy asserts the properties the deployment relies on and returns
// every violation found. httpService selects the checks of the
// http_service config (envoy-http.yaml) instead of the gRPC one.
func checkEnvoy(b *bootstrapv3.Bootstrap, httpService bool) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if sa := b.GetAdmin().GetAddress().GetSocketAddress(); sa.GetAddress() != "127.0.0.1" {
		fail("admin listens on %q, want loopback 127.0.0.1", sa.GetAddress())
	}

	clusters := map[string]*clusterv3.Cluster{}
	for _, c := range b.GetStaticResources().GetClusters() {
		clusters[c.GetName()] = c
	}

	// The listener and its http_connection_manager.
	listeners := b.GetStaticResources().GetListeners()
	if len(listeners) != 1 {
		return fmt.Errorf("got %d listeners, want 1", len(listeners))
	}
	l := listeners[0]
	if sa := l.GetAddress().GetSocketAddress(); sa.GetAddress() != "0.0.0.0" || sa.GetPortValue() != 8080 {
		fail("listener on %s:%d, want 0.0.0.0:8080", sa.GetAddress(), sa.GetPortValue())
	}
	if len(l.GetFilterChains()) != 1 || len(l.GetFilterChains()[0].GetFilters()) != 1 {
		return errors.Join(append(errs, errors.New("want exactly one filter chain with one network filter"))...)
	}
	hcm, err := unpack(l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig(), &hcmv3.HttpConnectionManager{})
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if !hcm.GetNormalizePath().GetValue() || !hcm.GetMergeSlashes() {
		fail("normalize_path and merge_slashes must be on, or /public/../x bypasses ext_authz")
	}

	// HTTP filters: strip identity headers, then ext_authz, router last.
	var names []string
	for _, f := range hcm.GetHttpFilters() {
		names = append(names, f.GetName())
	}
	wantFilters := []string{"envoy.filters.http.header_mutation", "envoy.filters.http.ext_authz", "envoy.filters.http.router"}
	if !slices.Equal(names, wantFilters) {
		fail("http_filters = %v, want %v", names, wantFilters)
	} else {
		hm, err := unpack(hcm.GetHttpFilters()[0].GetTypedConfig(), &headermutationv3.HeaderMutation{})
		if err != nil {
			fail("%v", err)
		}
		var removed []string
		for _, m := range hm.GetMutations().GetRequestMutations() {
			if r := m.GetRemove(); r != "" {
				removed = append(removed, r)
			}
		}
		if !containsAll(removed, identityHeaders) {
			fail("header_mutation removes %v before ext_authz, want %v", removed, identityHeaders)
		}

		az, err := unpack(hcm.GetHttpFilters()[1].GetTypedConfig(), &extauthzv3.ExtAuthz{})
		if err != nil {
			fail("%v", err)
		}
		if httpService {
			hs := az.GetHttpService()
			if got := hs.GetServerUri().GetCluster(); got != "hanko_authz_http" {
				fail("ext_authz http_service cluster = %q, want hanko_authz_http", got)
			}
			if d := hs.GetServerUri().GetTimeout(); d == nil || d.AsDuration() <= 0 {
				fail("ext_authz http_service timeout must be set")
			}
			if got := hs.GetPathPrefix(); got != "/authz" {
				fail("ext_authz http_service path_prefix = %q, want /authz", got)
			}
			//lint:ignore SA1019 checks that the deprecated field is not used
			if hs.GetAuthorizationRequest().GetAllowedHeaders() != nil {
				fail("use ExtAuthz.allowed_headers, not the deprecated authorization_request.allowed_headers")
			}
			sent := exactPatterns(az.GetAllowedHeaders().GetPatterns())
			if !slices.Contains(sent, "cookie") {
				fail("ext_authz allowed_headers %v must include cookie (the session cookie)", sent)
			}
			if len(sent) != len(az.GetAllowedHeaders().GetPatterns()) {
				fail("ext_authz allowed_headers must list exact names only")
			}
			for _, h := range []string{"content-type", "x-forwarded-uri", "x-original-uri", "x-forwarded-method", "x-original-method"} {
				if slices.Contains(sent, h) {
					// content-type: application/grpc makes Envoy's own
					// failure to reach hanko-authz an HTTP 200 (fail open);
					// the others let a client name another request.
					fail("ext_authz allowed_headers must not include %s", h)
				}
			}
			up := exactPatterns(hs.GetAuthorizationResponse().GetAllowedUpstreamHeaders().GetPatterns())
			if !containsAll(up, identityHeaders) {
				fail("allowed_upstream_headers %v, want %v", up, identityHeaders)
			}
			cl := exactPatterns(hs.GetAuthorizationResponse().GetAllowedClientHeaders().GetPatterns())
			if !containsAll(cl, []string{"www-authenticate", "retry-after", "content-type"}) {
				fail("allowed_client_headers %v must pass www-authenticate, retry-after and content-type", cl)
			}
		} else if got := az.GetGrpcService().GetEnvoyGrpc().GetClusterName(); got != "hanko_authz" {
			fail("ext_authz envoy_grpc cluster = %q, want hanko_authz", got)
		} else if d := az.GetGrpcService().GetTimeout(); d == nil || d.AsDuration() <= 0 {
			fail("ext_authz grpc_service timeout must be set")
		}
		if az.GetFailureModeAllow() {
			fail("ext_authz failure_mode_allow must be false (fail closed)")
		}
		if az.GetTransportApiVersion() != corev3.ApiVersion_V3 {
			fail("ext_authz transport_api_version = %v, want V3", az.GetTransportApiVersion())
		}
		if got := az.GetStatusOnError().GetCode(); got != typev3.StatusCode_ServiceUnavailable {
			fail("ext_authz status_on_error = %v, want ServiceUnavailable", got)
		}
	}

	// Routes: only the public ones skip ext_authz, and those strip the
	// identity headers; all of them go to known clusters.
	var routes []*routev3.Route
	for _, vh := range hcm.GetRouteConfig().GetVirtualHosts() {
		routes = append(routes, vh.GetRoutes()...)
	}
	public := map[string]bool{"regex:" + publicPathRegex: false, "path:/healthz": false}
	sawDefault := false
	for _, r := range routes {
		key := "prefix:" + r.GetMatch().GetPrefix()
		if r.GetMatch().GetPath() != "" {
			key = "path:" + r.GetMatch().GetPath()
		}
		if re := r.GetMatch().GetSafeRegex(); re != nil {
			key = "regex:" + re.GetRegex()
		}
		if c := r.GetRoute().GetCluster(); clusters[c] == nil {
			fail("route %s: unknown cluster %q", key, c)
		}
		disabled := false
		if a := r.GetTypedPerFilterConfig()["envoy.filters.http.ext_authz"]; a != nil {
			per, err := unpack(a, &extauthzv3.ExtAuthzPerRoute{})
			if err != nil {
				fail("route %s: %v", key, err)
			}
			disabled = per.GetDisabled()
		}
		_, isPublic := public[key]
		switch {
		case isPublic:
			public[key] = true
			if !disabled {
				fail("public route %s must disable ext_authz", key)
			}
			if !containsAll(r.GetRequestHeadersToRemove(), identityHeaders) {
				fail("public route %s removes %v, want %v", key, r.GetRequestHeadersToRemove(), identityHeaders)
			}
		case disabled:
			fail("route %s disables ext_authz but is not public", key)
		case slices.ContainsFunc(r.GetRequestHeadersToRemove(), func(h string) bool { return slices.Contains(identityHeaders, h) }):
			// The router applies this after ext_authz: it would strip the
			// verified identity.
			fail("protected route %s removes identity headers", key)
		}
		if key == "prefix:/" {
			sawDefault = true
			if r.GetRoute().GetCluster() != "app" {
				fail("default route goes to %q, want app", r.GetRoute().GetCluster())
			}
		}
	}
	for key, seen := range public {
		if !seen {
			fail("missing public route %s", key)
		}
	}
	if !sawDefault {
		fail("missing default route prefix /")
	}

	// Clusters.
	checkCluster := func(name, host string, port uint32) *clusterv3.Cluster {
		c := clusters[name]
		if c == nil {
			fail("missing cluster %s", name)
			return nil
		}
		if c.GetType() != clusterv3.Cluster_STRICT_DNS {
			fail("cluster %s type = %v, want STRICT_DNS", name, c.GetType())
		}
		eps := c.GetLoadAssignment().GetEndpoints()
		if len(eps) != 1 || len(eps[0].GetLbEndpoints()) != 1 {
			fail("cluster %s: want exactly one endpoint", name)
			return c
		}
		sa := eps[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
		if sa.GetAddress() != host || sa.GetPortValue() != port {
			fail("cluster %s endpoint %s:%d, want %s:%d", name, sa.GetAddress(), sa.GetPortValue(), host, port)
		}
		return c
	}
	if httpService {
		checkCluster("hanko_authz_http", "hanko-authz", 9002)
	} else if c := checkCluster("hanko_authz", "hanko-authz", 9001); c != nil {
		opts, err := unpack(c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"], &upstreamhttpv3.HttpProtocolOptions{})
		if err != nil {
			fail("cluster hanko_authz: %v", err)
		} else if opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
			fail("cluster hanko_authz must speak HTTP/2 (explicit http2_protocol_options) for gRPC")
		}
	}
	checkCluster("app", "app", 8000)

	return errors.Join(errs...)
}

// exactPatterns returns the exact strings of string matchers, skipping
// every other kind of matcher.
func exactPatterns(ms []*matcherv3.StringMatcher) []string {
	var out []string
	for _, m := range ms {
		if e := m.GetExact(); e != "" {
			out = append(out, e)
		}
	}
	return out
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func TestEnvoyConfig(t *testing.T) {
	for _, f := range []string{envoyConfig, envoyHTTPConfig} {
		t.Run(f, func(t *testing.T) {
			b, err := loadEnvoy(readFile(t, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := checkEnvoy(b, f == envoyHTTPConfig); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestEnvoyConfigRejectsMutations shows that decoding, validation and the
// property checks each catch a broken copy of the config.
func TestEnvoyConfigRejectsMutations(t *testing.T) {
	src := readFile(t, envoyConfig)
	tests := []struct {
		name, old, new string
		stage          string // "load" or "check": where it must fail
	}{
		{"unknown field", "envoy_grpc: { cluster_name: hanko_authz }", "envoy_grpc: { cluster: hanko_authz }", "load"},
		{"unknown typed_config type", "ext_authz.v3.ExtAuthzPerRoute\n" + perRouteIndent + "disabled", "ext_authz.v3.ExtAuthzPerRouteX\n" + perRouteIndent + "disabled", "load"},
		{"invalid port (top-level validation)", "port_value: 9001", "port_value: 90010", "load"},
		{"empty stat_prefix (validation inside typed_config)", "stat_prefix: ingress_http", `stat_prefix: ""`, "load"},
		{"fail open", "failure_mode_allow: false", "failure_mode_allow: true", "check"},
		{"public route keeps ext_authz", "disabled: true", "disabled: false", "check"},
		{"public route keeps identity headers", "- x-hanko-email\n", "- x-hanko-other\n", "check"},
		{"authz cluster speaks HTTP/1.1", "explicit_http_config:\n            http2_protocol_options: {}", "explicit_http_config:\n            http_protocol_options: {}", "check"},
		{"public route matches any prefix", `safe_regex: { regex: "/public/[A-Za-z0-9._~!$&'()*+,=:@/-]*" }`, `safe_regex: { regex: "/public/.*" }`, "check"},
		{"ext_authz at wrong cluster", "cluster_name: hanko_authz }", "cluster_name: app }", "check"},
		{"no path normalisation", "normalize_path: true", "normalize_path: false", "check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := loadEnvoy(mutate(t, src, tt.old, tt.new))
			if tt.stage == "load" {
				if err == nil {
					t.Fatal("mutated config decoded and validated")
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatalf("mutated config should still load: %v", err)
			}
			err = checkEnvoy(b, false)
			if err == nil {
				t.Fatal("checkEnvoy accepted the mutated config")
			}
			t.Log(err)
		})
	}
}

// TestEnvoyHTTPConfigRejectsMutations: the http_service checks catch a
// broken copy of envoy-http.yaml.
func TestEnvoyHTTPConfigRejectsMutations(t *testing.T) {
	src := readFile(t, envoyHTTPConfig)
	tests := []struct{ name, old, new string }{
		{"content-type sent to hanko-authz", "- exact: cookie\n                      failure_mode_allow", "- exact: cookie\n                          - exact: content-type\n                      failure_mode_allow"},
		{"client may name the path", "- exact: cookie\n                      failure_mode_allow", "- exact: cookie\n                          - exact: x-forwarded-uri\n                      failure_mode_allow"},
		{"no path_prefix", "path_prefix: /authz", "path_prefix: /check"},
		{"fail open", "failure_mode_allow: false", "failure_mode_allow: true"},
		{"identity header not passed upstream", "- exact: x-hanko-email\n", "- exact: x-hanko-other\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := loadEnvoy(mutate(t, src, tt.old, tt.new))
			if err != nil {
				t.Fatalf("mutated config should still load: %v", err)
			}
			if err := checkEnvoy(b, true); err == nil {
				t.Fatal("checkEnvoy accepted the mutated config")
			} else {
				t.Log(err)
			}
		})
	}
}
