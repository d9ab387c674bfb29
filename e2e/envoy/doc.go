// Package envoy holds the end-to-end tests that put real Envoy in front of
// hanko-authz: a fake Hanko (hankotest), the hanko-authz binary (built once
// per run), an upstream that records what it receives (HTTP echo and a
// gRPC service on one port) and Envoy started from the configs shipped in
// deploy/envoy, on free 127.0.0.1 ports.
//
// The shipped configs are run as they are, except for their socket
// addresses: every "socket_address: { address: A, port_value: P }" is
// replaced by a loopback address of the test (rewriteAddresses), and a run
// fails when the config has an address the test does not know. Tests that
// need a variant (encode_raw_headers, Envoy's own jwt_authn) say so and
// build it from the shipped file or from testdata/.
//
// Envoy is found through HANKOAUTH_ENVOY, else "envoy" on PATH;
// scripts/install-envoy.sh installs the pinned version. Without Envoy each
// test skips with one line naming that script, unless CI is set, where a
// missing Envoy fails the run. "go test -short" skips the package.
//
// Run just this suite:
//
//	HANKOAUTH_ENVOY=$(scripts/install-envoy.sh | tail -n 1) go test -race ./e2e/envoy/
package envoy
