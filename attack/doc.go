// Package attack holds the repository's attack suite: table-driven tests
// that send forged, malformed, ambiguous and oversized requests through
// every edge — the validator, the gRPC interceptors, Envoy's Check and the
// HTTP ext_authz handler — against a fake Hanko that also misbehaves
// (redirects, 5xx, huge, slow or invalid answers, weak or duplicate keys,
// another user's session). Each case states what every edge must answer;
// no case may be allowed that should not be. The package has no code of
// its own beyond its tests.
//
// The bounded soak test (TestSoak) runs only with -soak: it drives the
// hanko-authz binary with mixed valid, invalid and revoked tokens while
// the fake Hanko is killed, restarted and rotates its key, and reports the
// requests served, those wrongly allowed (must be 0) and wrongly denied,
// and memory and goroutines at the start and the end:
//
//	go test ./attack -run TestSoak -soak -soak.duration 2m -v
package attack
