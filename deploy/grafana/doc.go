// Package grafana builds hanko-authz's Grafana dashboard
// (deploy/grafana/hankoauth.json) from Go code with the Grafana Foundation
// SDK, so that the panels' PromQL is written, reviewed and tested in one
// place. Regenerate the JSON with `go generate ./grafana` in the deploy
// module; the deploy tests fail when the committed file is stale or when a
// query names a metric hanko-authz does not export.
package grafana

//go:generate go run ./gen -o hankoauth.json
