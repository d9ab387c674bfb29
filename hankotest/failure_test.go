package hankotest_test

import (
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/hankoauth/hankoauth/hankotest"
)

func TestFailureHeaderAndClockSkew(t *testing.T) {
	srv := hankotest.NewServer()
	defer srv.Close()
	jwks := srv.URL + "/.well-known/jwks.json"

	// Header and ClockSkew alone keep the real answer.
	srv.Fail(hankotest.EndpointJWKS, hankotest.Failure{
		Header:    http.Header{"cache-control": {"no-store"}},
		ClockSkew: -2 * time.Hour,
		Times:     1,
	})
	resp, body := do(t, mustRequest(t, http.MethodGet, jwks, "", ""))
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		t.Fatalf("Date %q: %v", resp.Header.Get("Date"), err)
	}
	if skew := time.Until(date); skew > -2*time.Hour+time.Minute || skew < -2*time.Hour-time.Minute {
		t.Errorf("Date is %v away from now, want about -2h", skew)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" || !json.Valid(body) {
		t.Errorf("got %d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp, _ = do(t, mustRequest(t, http.MethodGet, jwks, "", ""))
	if date, _ := http.ParseTime(resp.Header.Get("Date")); time.Since(date).Abs() > time.Minute || resp.Header.Get("Cache-Control") != "max-age=600" {
		t.Errorf("after Times: Date %v, Cache-Control %q", date, resp.Header.Get("Cache-Control"))
	}
}

func TestFailAll(t *testing.T) {
	srv := hankotest.NewServer()
	defer srv.Close()
	srv.FailAll(hankotest.Failure{Status: 502, ClockSkew: time.Minute, Times: 1})
	for _, path := range []string{"/.well-known/jwks.json", "/sessions/validate", "/health/alive", "/dev/sessions"} {
		if resp, _ := do(t, mustRequest(t, http.MethodGet, srv.URL+path, "", "")); resp.StatusCode != 502 {
			t.Errorf("%s: status %d, want 502", path, resp.StatusCode)
		}
	}
	if resp, _ := do(t, mustRequest(t, http.MethodGet, srv.URL+"/health/alive", "", "")); resp.StatusCode != 200 {
		t.Errorf("after Times: status %d", resp.StatusCode)
	}
}

// jwksDoc is the part of a JWKS the tests look at.
type jwksDoc struct {
	Keys []struct {
		Kty string `json:"kty"`
		Kid string `json:"kid"`
		N   string `json:"n"`
	} `json:"keys"`
}

func TestBadJWKS(t *testing.T) {
	srv := hankotest.NewServer()
	defer srv.Close()
	kid := srv.KeyID()
	for _, tc := range []struct {
		name  string
		fault hankotest.KeyFault
		check func(t *testing.T, d jwksDoc)
	}{
		{"weak", hankotest.WeakKey, func(t *testing.T, d jwksDoc) {
			if len(d.Keys) != 2 || d.Keys[0].Kid != kid || modulusBits(t, d.Keys[1].N) != 1024 || d.Keys[1].Kid == kid {
				t.Errorf("keys: %+v", d.Keys)
			}
		}},
		{"duplicate", hankotest.DuplicateKid, func(t *testing.T, d jwksDoc) {
			if len(d.Keys) != 2 || d.Keys[0].Kid != kid || d.Keys[1].Kid != kid || d.Keys[0].N == d.Keys[1].N {
				t.Errorf("keys: %+v", d.Keys)
			}
		}},
		{"symmetric", hankotest.SymmetricKey, func(t *testing.T, d jwksDoc) {
			if len(d.Keys) != 2 || d.Keys[1].Kty != "oct" {
				t.Errorf("keys: %+v", d.Keys)
			}
		}},
		{"none", hankotest.NoKeys, func(t *testing.T, d jwksDoc) {
			if d.Keys == nil || len(d.Keys) != 0 {
				t.Errorf("keys: %+v", d.Keys)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := srv.BadJWKS(tc.fault)
			if err != nil {
				t.Fatal(err)
			}
			srv.Fail(hankotest.EndpointJWKS, f)
			defer srv.ClearFailures()
			resp, body := do(t, mustRequest(t, http.MethodGet, srv.URL+"/.well-known/jwks.json", "", ""))
			if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "max-age=600" || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("answer: %d %v", resp.StatusCode, resp.Header)
			}
			var d jwksDoc
			if err := json.Unmarshal(body, &d); err != nil {
				t.Fatal(err)
			}
			tc.check(t, d)
		})
	}
	if _, err := srv.BadJWKS(0); err == nil {
		t.Error("BadJWKS(0) did not fail")
	}
}

func modulusBits(t *testing.T, n string) int {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil {
		t.Fatal(err)
	}
	return new(big.Int).SetBytes(b).BitLen()
}

func TestPathPrefix(t *testing.T) {
	srv := hankotest.NewServer(hankotest.WithPathPrefix("/tenants/acme"))
	defer srv.Close()
	m := srv.MustMint(t, hankotest.Session{})
	base := srv.URL[:len(srv.URL)-len("/tenants/acme")]
	for _, tc := range []struct {
		url  string
		want int
	}{
		{srv.URL + "/.well-known/jwks.json", 200},
		{srv.URL + "/health/alive", 200},
		{base + "/.well-known/jwks.json", 404},
		{base + "/tenants/acme", 404},
		{base + "/tenants/acmex/.well-known/jwks.json", 404},
	} {
		if resp, _ := do(t, mustRequest(t, http.MethodGet, tc.url, "", "")); resp.StatusCode != tc.want {
			t.Errorf("GET %s: %d, want %d", tc.url, resp.StatusCode, tc.want)
		}
	}
	resp, body := do(t, mustRequest(t, http.MethodPost, srv.URL+"/sessions/validate", "application/json", `{"session_token":"`+m.Token+`"}`))
	if resp.StatusCode != 200 || !json.Valid(body) || string(body) == `{"is_valid":false}`+"\n" {
		t.Errorf("validate under the prefix: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, mustRequest(t, http.MethodDelete, srv.URL+"/dev/sessions/"+m.SessionID, "", "")); resp.StatusCode != 204 {
		t.Errorf("dev delete under the prefix: %d", resp.StatusCode)
	}
	for _, p := range []string{"tenant", "/tenant/"} {
		if _, err := hankotest.New(hankotest.WithPathPrefix(p)); err == nil {
			t.Errorf("prefix %q accepted", p)
		}
	}
}
