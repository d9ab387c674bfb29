package envoy

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hankoauth/hankoauth/hankotest"
)

// The challenges of the per-route denials (extauthz's status table).
const (
	challengeScope  = `Bearer realm="hanko", error="insufficient_scope"`
	challengeReauth = `Bearer realm="hanko", error="insufficient_user_authentication", error_description="a more recent login is required"`
)

// TestPerRoute runs the shipped gRPC config's /account/ route, whose
// ExtAuthzPerRoute sets hanko.require: verified_email, hanko.amr: passkey
// and hanko.max_age: 5m, through real Envoy and the hanko-authz binary:
// a session meeting all three reaches the upstream; one that misses a
// requirement is denied there and still passes on the other protected
// routes, which set none. A config whose route has a typo'd hanko. key
// denies even a good session on that route.
func TestPerRoute(t *testing.T) {
	needEnvoy(t)
	t.Parallel()

	// Hanko's clock, moved back while a session is minted to backdate its
	// login (iat); validation runs on the present.
	var back atomic.Int64
	h := startHanko(t, hankotest.WithClock(func() time.Time {
		return time.Now().Add(-time.Duration(back.Load()))
	}))
	mintAgo := func(ago time.Duration, s hankotest.Session) hankotest.Minted {
		back.Store(int64(ago))
		defer back.Store(0)
		return h.MustMint(t, s)
	}
	unverified := false
	passkey := []string{"passkey"}

	s := &stack{hanko: h, up: startUpstream(t)}
	s.authz = startAuthz(t, h.url)
	s.envoy = runShipped(t, config{file: grpcConfig}, s.authz.grpcAddr, s.authz.httpAddr, s.up.addr)

	good := mintAgo(0, hankotest.Session{Email: "alice@example.com", AMR: passkey})
	for _, c := range []struct {
		name    string
		session hankotest.Minted
		status  int    // on /account/
		reason  string // of the denial
	}{
		{"all three met", good, http.StatusOK, ""},
		{"login 4m ago", mintAgo(4*time.Minute, hankotest.Session{Email: "alice@example.com", AMR: passkey}), http.StatusOK, ""},
		{"email not verified", mintAgo(0, hankotest.Session{Email: "bob@example.com", EmailVerified: &unverified, AMR: passkey}), http.StatusForbidden, "PERMISSION_DENIED"},
		{"no email", mintAgo(0, hankotest.Session{AMR: passkey}), http.StatusForbidden, "PERMISSION_DENIED"},
		{"amr pwd", mintAgo(0, hankotest.Session{Email: "alice@example.com", AMR: []string{"pwd"}}), http.StatusForbidden, "PERMISSION_DENIED"},
		{"no amr", mintAgo(0, hankotest.Session{Email: "alice@example.com"}), http.StatusForbidden, "PERMISSION_DENIED"},
		{"login 10m ago", mintAgo(10*time.Minute, hankotest.Session{Email: "alice@example.com", AMR: passkey}), http.StatusUnauthorized, "REAUTHENTICATION_REQUIRED"},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			auth := "authorization: Bearer " + c.session.Token
			a, id := s.envoy.get(t, "/account/email", append([]string{auth}, forgedIdentity...)...)
			r, reached := s.up.byID(id)
			switch c.status {
			case http.StatusOK:
				if a.status != http.StatusOK || !reached {
					t.Fatalf("/account/email: status %d, reached the upstream %v, want 200 (%s)", a.status, reached, a.body)
				}
				if got := r.Header.Values("x-hanko-user-id"); len(got) != 1 || got[0] != c.session.UserID {
					t.Errorf("/account/email: upstream x-hanko-user-id %q, want [%q]", got, c.session.UserID)
				}
			case http.StatusForbidden, http.StatusUnauthorized:
				if a.status != c.status {
					t.Fatalf("/account/email: status %d, want %d (%s)", a.status, c.status, a.body)
				}
				if reached {
					t.Error("/account/email: the upstream got a denied request")
				}
				errWant, challenge := "permission_denied", challengeScope
				if c.status == http.StatusUnauthorized {
					errWant, challenge = "reauthentication_required", challengeReauth
				}
				wantBody(t, a, errWant, c.reason)
				if got := a.header.Get("www-authenticate"); got != challenge {
					t.Errorf("/account/email: WWW-Authenticate %q, want %q", got, challenge)
				}
			}

			// The requirements are the route's: every session passes on
			// a protected route that sets none.
			a, id = s.envoy.get(t, "/api/orders", auth)
			if _, reached := s.up.byID(id); a.status != http.StatusOK || !reached {
				t.Errorf("/api/orders: status %d, reached the upstream %v, want 200 (%s)", a.status, reached, a.body)
			}
		})
	}

	// A typo in a hanko. key denies the route, for every session, and
	// names the key in hanko-authz's log; the other routes are unaffected.
	t.Run("typo", func(t *testing.T) {
		const key, typo = "hanko.require:", "hanko.requires:"
		typoed := runShipped(t, config{file: grpcConfig, edit: func(c string) string {
			if strings.Count(c, key) != 1 {
				t.Fatalf("%s: no single %q to misspell", grpcConfig, key)
			}
			return strings.Replace(c, key, typo, 1)
		}}, s.authz.grpcAddr, s.authz.httpAddr, s.up.addr)
		auth := "authorization: Bearer " + good.Token
		a, id := typoed.get(t, "/account/email", auth)
		if a.status != http.StatusForbidden {
			t.Fatalf("/account/email with %s: status %d, want 403 (%s)", typo, a.status, a.body)
		}
		if _, reached := s.up.byID(id); reached {
			t.Error("/account/email: the upstream got a denied request")
		}
		wantBody(t, a, "permission_denied", "PERMISSION_DENIED")
		if a, _ := typoed.get(t, "/api/orders", auth); a.status != http.StatusOK {
			t.Errorf("/api/orders with %s on /account/: status %d, want 200 (%s)", typo, a.status, a.body)
		}
		if a, _ := s.envoy.get(t, "/account/email", auth); a.status != http.StatusOK {
			t.Errorf("/account/email on the shipped config: status %d, want 200 (%s)", a.status, a.body)
		}
		eventually(t, 5*time.Second, func() string {
			if !strings.Contains(s.authz.stderr.String(), `hanko.requires`) {
				return fmt.Sprintf("hanko-authz's log does not name %s:\n%s", strings.TrimSuffix(typo, ":"), s.authz.stderr)
			}
			return ""
		})
	})
}
