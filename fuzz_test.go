package hankoauth

import (
	"errors"
	"testing"
	"time"
)

func FuzzParseJWKS(f *testing.F) {
	f.Add(fixtureBody(f, "00-jwks"))
	f.Add(fixtureBody(f, "11-rotation-jwks-two-keys"))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AAAA","kid":"x"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":"","kid":"e"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, _, err := parseJWKS(data)
		if err != nil {
			return
		}
		for kid, k := range keys {
			if kid == "" || k.alg == "" || k.key == nil {
				t.Fatalf("unusable key %q accepted: %+v", kid, k)
			}
		}
	})
}

func FuzzParseValidateResponse(f *testing.F) {
	for _, name := range []string{"04-post-validate-valid", "08-post-validate-fresh-with-idle-timeout", "04-post-validate-garbage", "04-post-validate-empty-object"} {
		f.Add(fixtureBody(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseValidateResponse(data)
		switch {
		case err == nil && (s == nil || s.UserID == "" || s.SessionID == ""):
			t.Fatalf("accepted a session without ids: %+v", s)
		case err != nil && s != nil:
			t.Fatal("session with error")
		case err != nil && !errors.Is(err, ErrRevoked) && !errors.Is(err, ErrUnavailable):
			t.Fatalf("unexpected error class %v", err)
		}
	})
}

// FuzzVerifyLocal feeds arbitrary tokens to a local validator over the
// recorded JWKS: nothing but a recorded-valid token may pass.
func FuzzVerifyLocal(f *testing.F) {
	valid := fixtureToken(f, "03-token-valid.jwt")
	f.Add(valid)
	f.Add(fixtureToken(f, "04-post-validate-alg-none"))
	f.Add(fixtureToken(f, "04-post-validate-tampered-payload"))
	f.Add("a.b.c")
	ks := newKeyServer(f, fixtureBody(f, "00-jwks"))
	v := newLocal(f, ks, func(c *Config) { c.CacheSize = -1; c.KeyRefreshMin = time.Hour })
	f.Fuzz(func(t *testing.T, token string) {
		s, err := v.verifyLocal(t.Context(), token, fixtureClock)
		if err == nil && s.SessionID == "" {
			t.Fatal("session without id")
		}
		if err != nil && !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrUnavailable) {
			t.Fatalf("unexpected error class %v", err)
		}
	})
}

func FuzzMaxAge(f *testing.F) {
	f.Add("max-age=600")
	f.Add("public, MAX-AGE=\"60\", must-revalidate")
	f.Fuzz(func(t *testing.T, h string) {
		if d := maxAge(h); d < 0 {
			t.Fatalf("negative max-age %v", d)
		}
	})
}
