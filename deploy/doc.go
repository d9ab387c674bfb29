// Package deploy holds hanko-authz's deployment artifacts and the tests
// that keep them honest. It has no exported API; it exists so that
// `go test ./...` in this module checks the manifests.
//
// # Contents
//
//   - envoy/envoy.yaml: an Envoy v3 bootstrap using hanko-authz as a gRPC
//     ext_authz service in front of an upstream app.
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
// probe paths, and ports and selectors that agree across files.
//
// This is a separate Go module so that these heavy dependencies stay out
// of the main module. Run the tests with:
//
//	cd deploy && go test ./...
package deploy
