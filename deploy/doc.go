// Package deploy holds hanko-authz's deployment artifacts and the tests
// that keep them honest. It has no exported API; it exists so that
// `go test ./...` in this module checks the manifests.
//
// # Contents
//
//   - envoy/envoy.yaml: an Envoy v3 bootstrap using hanko-authz as a gRPC
//     ext_authz service in front of an upstream app.
//   - envoy/envoy-http.yaml: the same with ext_authz's http_service.
//   - istio/: the MeshConfig extension provider and a CUSTOM
//     AuthorizationPolicy delegating to it.
//   - kubernetes/: Namespace, ServiceAccount, ConfigMap, Deployment,
//     Service, PodDisruptionBudget, HorizontalPodAutoscaler and a
//     kustomization listing them.
//   - grafana/: the Grafana dashboard, hankoauth.json, and the Go code
//     that generates it.
//   - prometheus/: alerting rules and their promtool unit tests;
//     kubernetes/monitoring/ carries the same rules as a PrometheusRule.
//   - ../Dockerfile: the multi-stage image build (checked, not built).
//
// # Tests
//
// The tests decode every manifest strictly (unknown or duplicate fields
// fail) into the upstream Go types: Envoy's go-control-plane protos, with
// their protoc-gen-validate rules applied recursively through every
// typed_config; istio.io/api protos; and k8s.io/api structs. They then
// assert the properties the deployment relies on, such as fail-closed
// ext_authz, public routes that cannot carry forged identity headers,
// probe paths, and ports and selectors that agree across files. Istio's
// own authorization builder (istio.io/istio/pilot/pkg/security/authz/builder)
// turns the shipped provider and policy into the Envoy filters istiod would
// send a sidecar; they are kept in istio/testdata/sidecar-http-filters.json
// (go test -run TestIstioBuilder -update rewrites it), where the main
// module's e2e/envoy tests run them in real Envoy, as they run the Envoy
// bootstraps.
//
// This is a separate Go module so that these heavy dependencies stay out
// of the main module. Run the tests with:
//
//	cd deploy && go test ./...
package deploy
