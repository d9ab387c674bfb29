package envoy

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hankoauth/hankoauth/hankotest"
)

// Case 11: Envoy's own jwt_authn filter next to hanko-authz, on the same
// tokens of the same Hanko. Both take a live session and refuse a forged
// one; after a logout, jwt_authn lets the session in until its exp,
// hanko-authz does not (within --revalidate-after).
func TestJWTAuthnSideBySide(t *testing.T) {
	needEnvoy(t)
	t.Parallel()
	s := startStack(t, config{file: grpcConfig})
	listen, admin := freeAddr(t), freeAddr(t)
	cfg := rewriteAddresses(t, readConfig(t, "e2e/envoy/testdata/jwt-authn.yaml"), map[string]string{
		"127.0.0.1:9901": admin,
		"0.0.0.0:8080":   listen,
		"hanko:8000":     s.hanko.addr,
		"app:8000":       s.up.addr,
	})
	jwt := startEnvoy(t, cfg, listen, admin)
	proxies := []struct {
		name string
		e    *envoy
	}{{"hanko-authz", s.envoy}, {"jwt_authn", jwt}}
	status := func(e *envoy, token string) int {
		a, _ := e.get(t, "/api/orders", "authorization: Bearer "+token)
		return a.status
	}

	m := s.hanko.mint(t)
	forged := hankotest.NewServer()
	defer forged.Close()
	other := forged.MustMint(t, hankotest.Session{UserID: m.UserID})
	for _, p := range proxies {
		if got := status(p.e, m.Token); got != http.StatusOK {
			t.Errorf("%s, live session: status %d, want 200", p.name, got)
		}
		if got := status(p.e, other.Token); got != http.StatusUnauthorized {
			t.Errorf("%s, forged token: status %d, want 401", p.name, got)
		}
	}

	t.Run("logout", func(t *testing.T) {
		s.hanko.Revoke(m.SessionID)
		eventually(t, 5*time.Second, func() string {
			if got := status(s.envoy, m.Token); got != http.StatusUnauthorized {
				return fmt.Sprintf("hanko-authz after logout: status %d, want 401", got)
			}
			return ""
		})
		if got := status(jwt, m.Token); got != http.StatusOK {
			t.Errorf("jwt_authn after logout: status %d; it used to let the session in until exp (%v)", got, m.ExpiresAt)
		}
	})
}
