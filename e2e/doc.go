// Package e2e holds the end-to-end tests of hanko-authz: they build the
// binary and the real grpcurl, run "hanko-authz dev" on free 127.0.0.1
// ports, and talk to it as a user would (grpcurl, HTTP, signals). They
// need nothing beyond 127.0.0.1 and the Go module cache.
//
// "go test -short" skips them, since building the binaries takes a while
// on a cold cache; "go test ./..." runs them.
package e2e
