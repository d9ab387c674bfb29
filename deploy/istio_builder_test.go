package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"testing"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pilot/pkg/config/memory"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/security/authz/builder"
	"istio.io/istio/pilot/pkg/security/trustdomain"
	"istio.io/istio/pkg/config/host"
	"istio.io/istio/pkg/config/schema/collections"
)

// checkIstioFilters wants the RBAC shadow filter, which marks the requests
// to check, then ext_authz. For a policy naming a provider the mesh does
// not have, Istio emits a deny-all RBAC filter and no ext_authz.
func checkIstioFilters(filters []*hcmv3.HttpFilter) error {
	var names []string
	for _, f := range filters {
		names = append(names, f.GetName())
	}
	if len(filters) != 2 || names[0] != "envoy.filters.http.rbac" || names[1] != "envoy.filters.http.ext_authz" {
		return fmt.Errorf("the builder emitted %v, want the RBAC shadow filter and ext_authz", names)
	}
	return nil
}

// TestIstioBuilderCatchesUnknownProvider: a policy naming a provider that
// the mesh config does not register (which istioctl analyze does not
// notice) is caught here.
func TestIstioBuilderCatchesUnknownProvider(t *testing.T) {
	policy := mutate(t, readFile(t, "istio/authorizationpolicy.yaml"), "  provider:\n    name: hanko-authz", "  provider:\n    name: hanko-authz-typo")
	err := checkIstioFilters(buildIstioFilters(t, readFile(t, "istio/meshconfig.yaml"), policy))
	if err == nil {
		t.Fatal("a policy naming an unknown provider passed")
	}
	t.Log(err)
}

// update rewrites the generated files the tests compare with: Istio's
// output (istioFilters) and the PrometheusRule (ruleCRDFile, from alertsFile).
var update = flag.Bool("update", false, "rewrite the generated test files ("+istioFilters+", "+ruleCRDFile+")")

// istioFilters holds the HTTP filters Istio's pilot builds for a sidecar
// of the workload deploy/istio/authorizationpolicy.yaml selects, with the
// provider of deploy/istio/meshconfig.yaml: the e2e/envoy tests run them
// in real Envoy (TestIstioFilters there).
const istioFilters = "istio/testdata/sidecar-http-filters.json"

// buildIstioFilters runs Istio's authorization builder (the code istiod
// runs for CUSTOM policies) on the shipped mesh config and policy, for a
// proxy of the policy's workload, and returns the HTTP filters it emits.
func buildIstioFilters(t *testing.T, mesh, policy []byte) []*hcmv3.HttpFilter {
	t.Helper()
	mc := &meshv1alpha1.MeshConfig{}
	if err := unmarshalProtoYAML(mesh, mc); err != nil {
		t.Fatal(err)
	}
	cfgs, _, err := crd.ParseInputs(string(policy))
	if err != nil {
		t.Fatal(err)
	}
	store := memory.Make(collections.Pilot)
	for _, c := range cfgs {
		if _, err := store.Create(c); err != nil {
			t.Fatal(err)
		}
	}
	push := &model.PushContext{
		AuthzPolicies: model.GetAuthorizationPolicies(&model.Environment{ConfigStore: store}),
		Mesh:          mc,
	}
	// The provider's service, as istiod would know it from Kubernetes
	// (deploy/kubernetes/service.yaml).
	const svc = "hanko-authz.hanko-authz.svc.cluster.local"
	push.ServiceIndex.HostnameAndNamespace = map[host.Name]map[string]*model.Service{
		svc: {"hanko-authz": &model.Service{Hostname: svc}},
	}
	labels := map[string]string{"app": "demo"}
	proxy := &model.Proxy{
		ID:              "demo-0.demo",
		ConfigNamespace: "demo",
		Labels:          labels,
		Metadata:        &model.NodeMetadata{Labels: labels, Namespace: "demo"},
	}
	policies := push.AuthzPolicies.ListAuthorizationPolicies(model.PolicyMatcherForProxy(proxy))
	if len(policies.Custom) != 1 {
		t.Fatalf("Istio selects %d CUSTOM policies for app=demo in namespace demo, want 1", len(policies.Custom))
	}
	b := builder.New(trustdomain.NewBundle("cluster.local", nil), push, policies, builder.Option{IsCustomBuilder: true})
	if b == nil {
		t.Fatal("Istio built no authorization filters")
	}
	return b.BuildHTTP()
}

// TestIstioBuilder checks what Istio makes of the shipped provider and
// policy: an RBAC shadow filter that marks the checked requests and the
// ext_authz filter, at our service, failing closed, and that the filters
// in istioFilters are exactly those (go test -update rewrites them).
func TestIstioBuilder(t *testing.T) {
	filters := buildIstioFilters(t, readFile(t, "istio/meshconfig.yaml"), readFile(t, "istio/authorizationpolicy.yaml"))
	if err := checkIstioFilters(filters); err != nil {
		t.Fatal(err)
	}
	var list []json.RawMessage
	for _, f := range filters {
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, b)
	}
	got, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	// protojson's output is not stable byte for byte; compare it reindented.
	var norm bytes.Buffer
	if err := json.Indent(&norm, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(istioFilters, norm.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := readFile(t, istioFilters)
	var a, b any
	if err := json.Unmarshal(norm.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &b); err != nil {
		t.Fatal(err)
	}
	aj, _ := json.Marshal(a)
	bj, _ := json.Marshal(b)
	if !bytes.Equal(aj, bj) {
		t.Errorf("%s is not what Istio builds from deploy/istio; run go test -run TestIstioBuilder -update ./ in deploy. Istio builds:\n%s", istioFilters, norm.Bytes())
	}
}
