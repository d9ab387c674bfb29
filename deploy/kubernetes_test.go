package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	k8sDir       = "kubernetes"
	k8sNamespace = "hanko-authz"
)

// loadK8s strictly decodes deploy/kubernetes/<file> into obj and checks
// its apiVersion, kind and (for namespaced kinds) namespace.
func loadK8s(t *testing.T, file, apiVersion, kind string, obj any) {
	t.Helper()
	if err := unmarshalStrictYAML(readFile(t, k8sDir+"/"+file), obj); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	// TypeMeta and ObjectMeta are embedded in every k8s.io/api object;
	// read them back generically through JSON.
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		metav1.TypeMeta
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	if env.APIVersion != apiVersion || env.Kind != kind {
		t.Errorf("%s: %s %s, want %s %s", file, env.APIVersion, env.Kind, apiVersion, kind)
	}
	if env.Metadata.Name != "hanko-authz" {
		t.Errorf("%s: name %q, want hanko-authz", file, env.Metadata.Name)
	}
	if kind != "Namespace" && env.Metadata.Namespace != k8sNamespace {
		t.Errorf("%s: namespace %q, want %s", file, env.Metadata.Namespace, k8sNamespace)
	}
}

type k8sManifests struct {
	ns     corev1.Namespace
	sa     corev1.ServiceAccount
	cm     corev1.ConfigMap
	dep    appsv1.Deployment
	svc    corev1.Service
	pdb    policyv1.PodDisruptionBudget
	hpa    autoscalingv2.HorizontalPodAutoscaler
	podLbl labels.Set
}

func loadK8sManifests(t *testing.T) *k8sManifests {
	t.Helper()
	m := &k8sManifests{}
	loadK8s(t, "namespace.yaml", "v1", "Namespace", &m.ns)
	loadK8s(t, "serviceaccount.yaml", "v1", "ServiceAccount", &m.sa)
	loadK8s(t, "configmap.yaml", "v1", "ConfigMap", &m.cm)
	loadK8s(t, "deployment.yaml", "apps/v1", "Deployment", &m.dep)
	loadK8s(t, "service.yaml", "v1", "Service", &m.svc)
	loadK8s(t, "pdb.yaml", "policy/v1", "PodDisruptionBudget", &m.pdb)
	loadK8s(t, "hpa.yaml", "autoscaling/v2", "HorizontalPodAutoscaler", &m.hpa)
	m.podLbl = labels.Set(m.dep.Spec.Template.Labels)
	return m
}

// servicePort returns the Service port with the given name.
func (m *k8sManifests) servicePort(t *testing.T, name string) corev1.ServicePort {
	t.Helper()
	for _, p := range m.svc.Spec.Ports {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("service has no port %q", name)
	return corev1.ServicePort{}
}

func TestKubernetesManifests(t *testing.T) {
	m := loadK8sManifests(t)
	dep := &m.dep
	pod := &dep.Spec.Template.Spec

	if m.ns.Name != k8sNamespace {
		t.Errorf("namespace %q, want %s", m.ns.Name, k8sNamespace)
	}

	// Deployment shape and selector.
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		t.Errorf("replicas = %v, want 2", dep.Spec.Replicas)
	}
	sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(m.podLbl) {
		t.Errorf("deployment selector %v must be non-empty and match pod labels %v (err %v)", dep.Spec.Selector, m.podLbl, err)
	}
	if pod.ServiceAccountName != m.sa.Name {
		t.Errorf("serviceAccountName %q, want %q", pod.ServiceAccountName, m.sa.Name)
	}
	if pod.TerminationGracePeriodSeconds == nil {
		t.Error("terminationGracePeriodSeconds not set")
	}
	if len(pod.TopologySpreadConstraints) == 0 && (pod.Affinity == nil || pod.Affinity.PodAntiAffinity == nil) {
		t.Error("want topologySpreadConstraints or pod anti-affinity")
	}
	for _, c := range pod.TopologySpreadConstraints {
		if s, err := metav1.LabelSelectorAsSelector(c.LabelSelector); err != nil || !s.Matches(m.podLbl) {
			t.Errorf("topology spread on %s does not select the pods", c.TopologyKey)
		}
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("got %d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Args, []string{"serve"}) || len(c.Command) != 0 {
		t.Errorf("command %v args %v, want the image entrypoint with args [serve]", c.Command, c.Args)
	}

	// Configuration: HANKO_API_URL from the ConfigMap, JSON logs.
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	ref := env["HANKO_API_URL"].ValueFrom
	switch {
	case ref == nil || ref.ConfigMapKeyRef == nil:
		t.Error("HANKO_API_URL must come from a configMapKeyRef")
	case ref.ConfigMapKeyRef.Name != m.cm.Name:
		t.Errorf("HANKO_API_URL from ConfigMap %q, want %q", ref.ConfigMapKeyRef.Name, m.cm.Name)
	case !strings.HasPrefix(m.cm.Data[ref.ConfigMapKeyRef.Key], "https://"):
		t.Errorf("ConfigMap key %q = %q, want an https URL", ref.ConfigMapKeyRef.Key, m.cm.Data[ref.ConfigMapKeyRef.Key])
	}
	if got := env["HANKO_AUTHZ_LOG_FORMAT"].Value; got != "json" {
		t.Errorf("HANKO_AUTHZ_LOG_FORMAT = %q, want json", got)
	}

	// Ports: named grpc 9001 and http 9002.
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["grpc"] != 9001 || ports["http"] != 9002 || len(ports) != 2 {
		t.Errorf("container ports %v, want grpc:9001 http:9002", ports)
	}

	// Probes on the named http port.
	checkProbe := func(kind string, p *corev1.Probe, path string) {
		t.Helper()
		switch {
		case p == nil || p.HTTPGet == nil:
			t.Errorf("%s probe: want an httpGet probe", kind)
		case p.HTTPGet.Path != path || p.HTTPGet.Port != intstr.FromString("http"):
			t.Errorf("%s probe: %s on port %s, want %s on port http", kind, p.HTTPGet.Path, p.HTTPGet.Port.String(), path)
		}
	}
	checkProbe("liveness", c.LivenessProbe, "/healthz")
	checkProbe("readiness", c.ReadinessProbe, "/readyz")
	if c.StartupProbe != nil {
		checkProbe("startup", c.StartupProbe, "/healthz")
	}

	// Resources: requests and limits for CPU and memory.
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := c.Resources.Requests[res], c.Resources.Limits[res]
		if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
			t.Errorf("%s: request %s limit %s, want both set and request <= limit", res, req.String(), lim.String())
		}
	}

	// Security: the restricted Pod Security Standard, as the namespace
	// label enforces it.
	if m.ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Error("namespace should enforce the restricted Pod Security Standard")
	}
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("container securityContext not set")
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("runAsNonRoot must be true")
	}
	if sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Error("runAsUser must be set and non-zero")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem must be true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation must be false")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("privileged must not be true")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Error("capabilities must drop ALL and add none")
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil && pod.SecurityContext != nil {
		seccomp = pod.SecurityContext.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("seccompProfile must be RuntimeDefault")
	}

	// Service: selects the pods, named ports for Istio protocol selection,
	// each targeting the container port of the same number.
	if m.svc.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("service type %q, want ClusterIP", m.svc.Spec.Type)
	}
	if len(m.svc.Spec.Selector) == 0 || !labels.SelectorFromSet(m.svc.Spec.Selector).Matches(m.podLbl) {
		t.Errorf("service selector %v does not select pod labels %v", m.svc.Spec.Selector, m.podLbl)
	}
	if grpc := m.servicePort(t, "grpc"); grpc.AppProtocol == nil || *grpc.AppProtocol != "grpc" {
		t.Error("service port grpc needs appProtocol: grpc")
	}
	targeted := map[int32]bool{}
	for _, p := range m.svc.Spec.Ports {
		if p.Name != "grpc" && p.Name != "http" && !strings.HasPrefix(p.Name, "http-") {
			t.Errorf("service port name %q: want grpc or http[-suffix] for Istio protocol selection", p.Name)
		}
		target := p.TargetPort.IntVal
		if p.TargetPort.Type == intstr.String {
			var ok bool
			if target, ok = ports[p.TargetPort.StrVal]; !ok {
				t.Errorf("service port %s targets unknown container port %q", p.Name, p.TargetPort.StrVal)
			}
		}
		if target != p.Port {
			t.Errorf("service port %s: port %d targets container port %d", p.Name, p.Port, target)
		}
		targeted[target] = true
	}
	for name, port := range ports {
		if !targeted[port] {
			t.Errorf("container port %s (%d) is not exposed by the service", name, port)
		}
	}

	// PDB and HPA point at the Deployment.
	if m.pdb.Spec.MinAvailable == nil || *m.pdb.Spec.MinAvailable != intstr.FromInt32(1) {
		t.Errorf("PDB minAvailable = %v, want 1", m.pdb.Spec.MinAvailable)
	}
	if s, err := metav1.LabelSelectorAsSelector(m.pdb.Spec.Selector); err != nil || s.Empty() || !s.Matches(m.podLbl) {
		t.Errorf("PDB selector %v does not select the pods", m.pdb.Spec.Selector)
	}
	target := m.hpa.Spec.ScaleTargetRef
	if target.APIVersion != "apps/v1" || target.Kind != "Deployment" || target.Name != dep.Name {
		t.Errorf("HPA targets %s %s %s, want apps/v1 Deployment %s", target.APIVersion, target.Kind, target.Name, dep.Name)
	}
	if m.hpa.Spec.MinReplicas == nil || *m.hpa.Spec.MinReplicas != 2 || m.hpa.Spec.MaxReplicas != 10 {
		t.Errorf("HPA replicas %v..%d, want 2..10", m.hpa.Spec.MinReplicas, m.hpa.Spec.MaxReplicas)
	}
	if dep.Spec.Replicas != nil && m.hpa.Spec.MinReplicas != nil && *dep.Spec.Replicas < *m.hpa.Spec.MinReplicas {
		t.Error("deployment replicas below HPA minReplicas")
	}
	cpuTarget := false
	for _, mt := range m.hpa.Spec.Metrics {
		if r := mt.Resource; mt.Type == autoscalingv2.ResourceMetricSourceType && r != nil && r.Name == corev1.ResourceCPU &&
			r.Target.Type == autoscalingv2.UtilizationMetricType && r.Target.AverageUtilization != nil && *r.Target.AverageUtilization == 70 {
			cpuTarget = true
		}
	}
	if !cpuTarget {
		t.Error("HPA needs a CPU Utilization target of 70%")
	}
}

// TestKustomizationListsEveryManifest keeps `kubectl apply -k` complete.
func TestKustomizationListsEveryManifest(t *testing.T) {
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	if err := unmarshalStrictYAML(readFile(t, k8sDir+"/kustomization.yaml"), &k); err != nil {
		t.Fatal(err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization: %s %s", k.APIVersion, k.Kind)
	}
	entries, err := os.ReadDir(k8sDir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".yaml" && e.Name() != "kustomization.yaml" {
			files = append(files, e.Name())
		}
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, files) {
		t.Errorf("kustomization resources %v, want every manifest %v", got, files)
	}
}

// TestKubernetesDecodingIsStrict shows that unknown, duplicate and
// wrongly-cased fields and multi-document files are rejected.
func TestKubernetesDecodingIsStrict(t *testing.T) {
	bad := mutate(t, readFile(t, k8sDir+"/deployment.yaml"), "readOnlyRootFilesystem: true", "readonlyRootFilesystem: true")
	var d appsv1.Deployment
	if err := unmarshalStrictYAML(bad, &d); err == nil {
		t.Fatal("misspelt field accepted")
	} else {
		t.Log(err)
	}
	dup := mutate(t, readFile(t, k8sDir+"/deployment.yaml"), "replicas: 2\n", "replicas: 2\n  replicas: 3\n")
	if err := unmarshalStrictYAML(dup, &d); err == nil {
		t.Fatal("duplicate field accepted")
	}
	var s corev1.Service
	if err := unmarshalStrictYAML([]byte("kind: Service\n---\nkind: Service\n"), &s); err == nil {
		t.Fatal("multi-document file accepted")
	}
}
