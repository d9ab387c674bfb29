package envoy

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// istioFilters are the HTTP filters Istio's pilot builds from deploy/istio
// (the deploy module's TestIstioBuilder keeps the file up to date).
const istioFilters = "deploy/istio/testdata/sidecar-http-filters.json"

// Case 10: the filters Istio itself builds for the shipped provider and
// CUSTOM policy, in real Envoy: cases 2-5, the policy's notPaths included.
func TestIstioFilters(t *testing.T) {
	needEnvoy(t)
	t.Parallel()
	s := &stack{hanko: startHanko(t), up: startUpstream(t)}
	// As in deploy/kubernetes: hanko-authz has --public-paths /public/
	// (startAuthz's default adds /healthz, which the policy exempts anyway).
	s.authz = startAuthz(t, s.hanko.url)
	var filters []json.RawMessage
	if err := json.Unmarshal([]byte(readConfig(t, istioFilters)), &filters); err != nil {
		t.Fatalf("%s: %v", istioFilters, err)
	}
	const at = "                  - ISTIO_HTTP_FILTERS\n"
	tmpl := readConfig(t, "e2e/envoy/testdata/istio-sidecar.yaml")
	if strings.Count(tmpl, at) != 1 {
		t.Fatal("istio-sidecar.yaml: no single ISTIO_HTTP_FILTERS line")
	}
	var list strings.Builder
	for _, f := range filters {
		// JSON is YAML: each filter goes in as a flow mapping.
		list.WriteString("                  - " + string(f) + "\n")
	}
	listen, admin := freeAddr(t), freeAddr(t)
	cfg := rewriteAddresses(t, strings.Replace(tmpl, at, list.String(), 1), map[string]string{
		"127.0.0.1:9901":   admin,
		"0.0.0.0:15006":    listen,
		"hanko-authz:9001": s.authz.grpcAddr,
		"app:8000":         s.up.addr,
	})
	s.envoy = startEnvoy(t, cfg, listen, admin)

	t.Run("allowed", func(t *testing.T) { testAllowedIstio(t, s) })
	t.Run("denied", func(t *testing.T) { testDenied(t, s) })
	t.Run("public_paths", func(t *testing.T) { testPublicPaths(t, s) })
	t.Run("grpc", func(t *testing.T) { testGRPC(t, s, true) })
	t.Run("failures", func(t *testing.T) { testFailures(t, s, true) })
}

// testAllowedIstio is case 2 behind Istio's filters. On checked paths
// hanko-authz's answer replaces client-sent x-hanko-*; Istio strips none on
// the policy's notPaths.
func testAllowedIstio(t *testing.T, s *stack) {
	m := s.hanko.mint(t)
	for _, h := range []string{"authorization: Bearer " + m.Token, "cookie: hanko=" + m.Token} {
		a, id := s.envoy.get(t, "/api/orders", append([]string{h}, forgedIdentity...)...)
		if a.status != http.StatusOK {
			t.Fatalf("%s…: status %d, want 200 (%s)", h[:6], a.status, a.body)
		}
		r, _ := s.up.byID(id)
		for k, want := range map[string]string{
			"x-hanko-user-id":    m.UserID,
			"x-hanko-session-id": m.SessionID,
			"x-hanko-email":      "alice@example.com",
		} {
			if got := r.Header.Values(k); len(got) != 1 || got[0] != want {
				t.Errorf("%s…: upstream %s = %q, want [%q]", h[:6], k, got, want)
			}
		}
	}
	// /public/ is hanko-authz's --public-paths (as in deploy/kubernetes):
	// the check runs and removes client-sent identity headers.
	a, id := s.envoy.get(t, "/public/x", forgedIdentity...)
	if a.status != http.StatusOK {
		t.Fatalf("/public/x without a session: status %d, want 200", a.status)
	}
	r, _ := s.up.byID(id)
	for k := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-hanko-") {
			t.Errorf("/public/x: the upstream got %s: %q", k, r.Header.Values(k))
		}
	}
	// /healthz is the policy's notPaths: no check, nothing stripped.
	a, id = s.envoy.get(t, "/healthz", forgedIdentity...)
	if a.status != http.StatusOK {
		t.Fatalf("/healthz without a session: status %d, want 200 (notPaths)", a.status)
	}
	r, _ = s.up.byID(id)
	if got := r.Header.Get("x-hanko-user-id"); got == "" {
		t.Errorf("/healthz (notPaths) reached the upstream without the client's x-hanko-user-id; Istio strips it now, update the docs")
	}
}
