package deploy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	securityv1 "istio.io/api/security/v1"
	securityv1beta1 "istio.io/api/security/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const providerName = "hanko-authz"

// loadAuthorizationPolicy decodes the AuthorizationPolicy manifest: the
// Kubernetes envelope strictly, then spec strictly via protojson.
func loadAuthorizationPolicy(y []byte) (*metav1.ObjectMeta, *securityv1.AuthorizationPolicy, error) {
	var env struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        metav1.ObjectMeta `json:"metadata"`
		Spec            json.RawMessage   `json:"spec"`
	}
	if err := unmarshalStrictYAML(y, &env); err != nil {
		return nil, nil, err
	}
	if env.APIVersion != "security.istio.io/v1" || env.Kind != "AuthorizationPolicy" {
		return nil, nil, fmt.Errorf("got %s %s, want security.istio.io/v1 AuthorizationPolicy", env.APIVersion, env.Kind)
	}
	ap := &securityv1.AuthorizationPolicy{}
	// Spec is JSON already, and JSON is YAML.
	if err := unmarshalProtoYAML(env.Spec, ap); err != nil {
		return nil, nil, fmt.Errorf("spec: %w", err)
	}
	return &env.Metadata, ap, nil
}

func TestIstioExtensionProvider(t *testing.T) {
	mc := &meshv1alpha1.MeshConfig{}
	if err := unmarshalProtoYAML(readFile(t, "istio/meshconfig.yaml"), mc); err != nil {
		t.Fatal(err)
	}
	var grpc *meshv1alpha1.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationGrpcProvider
	for _, p := range mc.GetExtensionProviders() {
		if p.GetName() == providerName {
			grpc = p.GetEnvoyExtAuthzGrpc()
		}
	}
	if grpc == nil {
		t.Fatalf("no envoyExtAuthzGrpc extension provider named %q", providerName)
	}

	m := loadK8sManifests(t)
	if want := fmt.Sprintf("%s.%s.svc.cluster.local", m.svc.Name, m.svc.Namespace); grpc.GetService() != want {
		t.Errorf("provider service %q, want %q (deploy/kubernetes/service.yaml)", grpc.GetService(), want)
	}
	if port := m.servicePort(t, "grpc").Port; grpc.GetPort() != uint32(port) {
		t.Errorf("provider port %d, want the Service's grpc port %d", grpc.GetPort(), port)
	}
	if grpc.GetFailOpen() {
		t.Error("failOpen must be false (fail closed)")
	}
	if d := grpc.GetTimeout(); d == nil || d.AsDuration() <= 0 {
		t.Error("timeout must be set (Istio's default is 600s)")
	}
	if grpc.GetStatusOnError() != "503" {
		t.Errorf("statusOnError %q, want 503", grpc.GetStatusOnError())
	}
}

func TestIstioAuthorizationPolicy(t *testing.T) {
	meta, ap, err := loadAuthorizationPolicy(readFile(t, "istio/authorizationpolicy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if meta.Name == "" || meta.Namespace == "" {
		t.Error("metadata needs name and namespace")
	}
	if ap.GetAction() != securityv1.AuthorizationPolicy_CUSTOM {
		t.Errorf("action %v, want CUSTOM", ap.GetAction())
	}
	if got := ap.GetProvider().GetName(); got != providerName {
		t.Errorf("provider %q, want the mesh extension provider %q", got, providerName)
	}
	if len(ap.GetSelector().GetMatchLabels()) == 0 && len(ap.GetTargetRefs()) == 0 {
		t.Error("policy must select a workload; without a selector it covers the whole namespace")
	}

	// Which paths are sent to hanko-authz?
	for path, want := range map[string]bool{
		"/":                  true,
		"/api/me":            true,
		"/publicity":         true,
		"/healthz/x":         true,
		"/public/":           true, // hanko-authz's --public-paths decides
		"/public/index.html": true,
		"/healthz":           false,
	} {
		got, err := policyMatchesPath(ap, path)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("path %s: checked by hanko-authz = %v, want %v", path, got, want)
		}
	}
}

func TestIstioDecodingIsStrict(t *testing.T) {
	mc := &meshv1alpha1.MeshConfig{}
	bad := mutate(t, readFile(t, "istio/meshconfig.yaml"), "failOpen: false", "failopen: false")
	if err := unmarshalProtoYAML(bad, mc); err == nil {
		t.Error("meshconfig: misspelt field accepted")
	}
	src := readFile(t, "istio/authorizationpolicy.yaml")
	for name, b := range map[string][]byte{
		"unknown spec field":     mutate(t, src, "action: CUSTOM", "action: CUSTOM\n  failOpen: true"),
		"unknown envelope field": mutate(t, src, "kind: AuthorizationPolicy", "kind: AuthorizationPolicy\nstatus: {}"),
		"unknown action":         mutate(t, src, "action: CUSTOM", "action: CUSTOMISED"),
		"wrong apiVersion":       mutate(t, src, "security.istio.io/v1\n", "security.istio.io/v2\n"),
	} {
		if _, _, err := loadAuthorizationPolicy(b); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// policyMatchesPath reports whether a request for path, with nothing else
// known about it, matches one of ap's rules. It only models rules that
// restrict paths, and fails on anything else rather than guess.
func policyMatchesPath(ap *securityv1.AuthorizationPolicy, path string) (bool, error) {
	if len(ap.GetRules()) == 0 {
		return false, fmt.Errorf("no rules")
	}
	for _, r := range ap.GetRules() {
		if len(r.GetFrom()) != 0 || len(r.GetWhen()) != 0 || len(r.GetTo()) == 0 {
			return false, fmt.Errorf("only rules with just `to` are modelled")
		}
		for _, to := range r.GetTo() {
			op := to.GetOperation()
			only := &securityv1beta1.Operation{Paths: op.GetPaths(), NotPaths: op.GetNotPaths()}
			if !proto.Equal(only, op) {
				return false, fmt.Errorf("only paths and notPaths are modelled")
			}
			ok := (len(op.GetPaths()) == 0 || slices.ContainsFunc(op.GetPaths(), func(p string) bool { return istioPathMatch(p, path) })) &&
				!slices.ContainsFunc(op.GetNotPaths(), func(p string) bool { return istioPathMatch(p, path) })
			if ok {
				return true, nil
			}
		}
	}
	return false, nil
}

// istioPathMatch implements Istio's path matching: exact, "prefix*",
// "*suffix" or "*".
func istioPathMatch(pattern, path string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(path, strings.TrimSuffix(pattern, "*"))
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(path, strings.TrimPrefix(pattern, "*"))
	default:
		return pattern == path
	}
}
