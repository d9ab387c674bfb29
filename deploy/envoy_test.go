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
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

	// Registered for their side effect only, so that the typed_config Any
	// values naming them resolve during strict decoding.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
)

const envoyConfig = "envoy/envoy.yaml"

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
// every violation found.
func checkEnvoy(b *bootstrapv3.Bootstrap) error {
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
		if got := az.GetGrpcService().GetEnvoyGrpc().GetClusterName(); got != "hanko_authz" {
			fail("ext_authz envoy_grpc cluster = %q, want hanko_authz", got)
		}
		if az.GetFailureModeAllow() {
			fail("ext_authz failure_mode_allow must be false (fail closed)")
		}
		if az.GetTransportApiVersion() != corev3.ApiVersion_V3 {
			fail("ext_authz transport_api_version = %v, want V3", az.GetTransportApiVersion())
		}
		if d := az.GetGrpcService().GetTimeout(); d == nil || d.AsDuration() <= 0 {
			fail("ext_authz grpc_service timeout must be set")
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
	public := map[string]bool{"prefix:/public/": false, "path:/healthz": false}
	sawDefault := false
	for _, r := range routes {
		key := "prefix:" + r.GetMatch().GetPrefix()
		if r.GetMatch().GetPath() != "" {
			key = "path:" + r.GetMatch().GetPath()
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
	if c := checkCluster("hanko_authz", "hanko-authz", 9001); c != nil {
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

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func TestEnvoyConfig(t *testing.T) {
	b, err := loadEnvoy(readFile(t, envoyConfig))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkEnvoy(b); err != nil {
		t.Error(err)
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
		{"authz cluster speaks HTTP/1.1", "http2_protocol_options: {}", "http_protocol_options: {}", "check"},
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
			err = checkEnvoy(b)
			if err == nil {
				t.Fatal("checkEnvoy accepted the mutated config")
			}
			t.Log(err)
		})
	}
}
