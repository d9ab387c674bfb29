package attack

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
)

// The reasons, short.
const (
	rMissing   = hankoauth.ReasonTokenMissing
	rAmbiguous = hankoauth.ReasonTokenAmbiguous
	rMalformed = hankoauth.ReasonTokenMalformed
	rSignature = hankoauth.ReasonSignature
	rKey       = hankoauth.ReasonUnknownKey
	rExpired   = hankoauth.ReasonExpired
	rNotYet    = hankoauth.ReasonNotYetValid
	rNotSess   = hankoauth.ReasonNotSessionToken
	rRevoked   = hankoauth.ReasonRevoked
	rMismatch  = hankoauth.ReasonMismatch
	rUnavail   = hankoauth.ReasonUnavailable
)

// forged is the answer to a token signed with a key that is not Hanko's:
// a bad signature, an unknown key (or "retry" while the rate-limited JWKS
// refresh is spent), or a token the parser refuses.
var forged = deny(rSignature, rKey, rUnavail, rMalformed)

// attacker holds keys of the attacker's own.
type attacker struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
}

func newAttacker(t testing.TB) *attacker {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &attacker{rsa: rk, ec: ek}
}

// sign makes a compact JWS of payload with alg and key, and header fields.
func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, header map[string]any, payload []byte) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	for k, v := range header {
		if k == "jwk" {
			opts.EmbedJWK = true
			continue
		}
		opts = opts.WithHeader(jose.HeaderKey(k), v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// raw assembles a token from a header and payload of our own text and a
// signature (base64url, may be empty).
func raw(header, payload, sig string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload)) + "." + sig
}

// hankoPublicKey returns the fake Hanko's current public key and kid.
func hankoPublicKey(t testing.TB, h *hankotest.Hanko) (*rsa.PublicKey, string) {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(h.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.KeyID == h.KeyID() {
			return k.Key.(*rsa.PublicKey), k.KeyID
		}
	}
	t.Fatal("no current key in the JWKS")
	return nil, ""
}

func claimsOf(m hankotest.Minted, mod func(map[string]any)) map[string]any {
	now := time.Now()
	c := map[string]any{
		"sub": m.UserID, "session_id": m.SessionID, "aud": []string{"localhost"},
		"iat": now.Unix(), "exp": m.ExpiresAt.Unix(),
	}
	if mod != nil {
		mod(c)
	}
	return c
}

// TestAttackTokens sends forged and odd tokens through every edge.
func TestAttackTokens(t *testing.T) {
	e := newEnv(t, nil, nil)
	h := e.hanko
	a := newAttacker(t)
	pub, kid := hankoPublicKey(t, h)
	alice := h.MustMint(t, hankotest.Session{Email: "alice@example.com"})
	bob := h.MustMint(t, hankotest.Session{})
	payload := func(mod func(map[string]any)) []byte {
		b, err := json.Marshal(claimsOf(alice, mod))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	hankoSigned := func(mod func(map[string]any)) string {
		tok, err := h.Sign(claimsOf(alice, mod))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	hankoSignedRaw := func(c map[string]any) string {
		tok, err := h.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	revoked := h.MustMint(t, hankotest.Session{})
	h.Revoke(revoked.SessionID)

	// The public key in every encoding an HS256 confusion might use.
	pkixDER, _ := x509.MarshalPKIXPublicKey(pub)
	pkcs1 := x509.MarshalPKCS1PublicKey(pub)
	jwkJSON, _ := json.Marshal(jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: "RS256", Use: "sig"})
	hmacKeys := map[string][]byte{
		"PEM PKIX":    pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkixDER}),
		"PEM PKCS1":   pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}),
		"DER PKIX":    pkixDER,
		"DER PKCS1":   pkcs1,
		"JWK":         jwkJSON,
		"JWKS":        h.JWKS(),
		"modulus":     pub.N.Bytes(),
		"modulus b64": []byte(base64.RawURLEncoding.EncodeToString(pub.N.Bytes())),
	}
	// A certificate of the attacker's key, for x5c.
	certDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix2("hanko"), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix2("hanko")}, &a.rsa.PublicKey, a.rsa)
	if err != nil {
		t.Fatal(err)
	}
	valid := strings.Split(alice.Token, ".")

	type tc struct {
		name  string
		token string
		want  want
	}
	tests := []tc{
		{"control: valid session", alice.Token, allow},
		{"control: revoked session", revoked.Token, deny(rRevoked)},
		{"control: expired session", h.MustMint(t, hankotest.Session{Lifetime: -time.Hour}).Token, deny(rExpired)},

		// Algorithms.
		{"alg none", raw(`{"alg":"none","kid":"`+kid+`","typ":"JWT"}`, string(payload(nil)), ""), deny(rMalformed)},
		{"alg none, signature kept", raw(`{"alg":"none","kid":"`+kid+`"}`, string(payload(nil)), valid[2]), deny(rMalformed)},
		{"alg NONE", raw(`{"alg":"NONE","kid":"`+kid+`"}`, string(payload(nil)), ""), deny(rMalformed)},
		{"ES256 with the RS256 kid", sign(t, jose.ES256, a.ec, map[string]any{"kid": kid}, payload(nil)), deny(rSignature)},
		{"PS256 with the RS256 kid", sign(t, jose.PS256, a.rsa, map[string]any{"kid": kid}, payload(nil)), deny(rSignature)},
		{"RS512 with the RS256 kid", sign(t, jose.RS512, a.rsa, map[string]any{"kid": kid}, payload(nil)), deny(rSignature)},
		{"RS256 of another key with the kid", sign(t, jose.RS256, a.rsa, map[string]any{"kid": kid}, payload(nil)), deny(rSignature)},

		// Keys named in the header.
		{"jwk embedded", sign(t, jose.RS256, a.rsa, map[string]any{"kid": kid, "jwk": true}, payload(nil)), forged},
		{"jku", sign(t, jose.RS256, a.rsa, map[string]any{"kid": kid, "jku": "http://127.0.0.1:1/jwks.json"}, payload(nil)), forged},
		{"x5u", sign(t, jose.RS256, a.rsa, map[string]any{"kid": kid, "x5u": "http://127.0.0.1:1/cert.pem"}, payload(nil)), forged},
		{"x5c", sign(t, jose.RS256, a.rsa, map[string]any{"kid": kid, "x5c": []string{base64.StdEncoding.EncodeToString(certDER)}}, payload(nil)), forged},
		{"x5c without kid", sign(t, jose.RS256, a.rsa, map[string]any{"x5c": []string{base64.StdEncoding.EncodeToString(certDER)}}, payload(nil)), forged},
		{"crit", sign(t, jose.RS256, a.rsa, map[string]any{"kid": kid, "crit": []string{"exp"}, "exp": 1}, payload(nil)), forged},
		{"valid signature, header swapped for one with jku", raw(`{"alg":"RS256","kid":"`+kid+`","jku":"http://evil/"}`, mustDecode(t, valid[1]), valid[2]), forged},
		{"valid signature, payload swapped for bob's", valid[0] + "." + strings.Split(bob.Token, ".")[1] + "." + valid[2], forged},

		// Duplicate JSON keys.
		{"duplicate alg in the header", raw(`{"alg":"RS256","alg":"none","kid":"`+kid+`"}`, string(payload(nil)), valid[2]), deny(rMalformed, rSignature)},
		{"duplicate kid in the header", raw(`{"alg":"RS256","kid":"other","kid":"`+kid+`"}`, mustDecode(t, valid[1]), valid[2]), forged},
		{"duplicate sub in the payload", raw(`{"alg":"RS256","kid":"`+kid+`"}`, strings.Replace(mustDecode(t, valid[1]), "{", `{"sub":"`+bob.UserID+`",`, 1), valid[2]), forged},
		{"duplicate sub, signed by another key", sign(t, jose.RS256, a.rsa, map[string]any{"kid": kid}, []byte(strings.Replace(string(payload(nil)), "{", `{"sub":"`+bob.UserID+`",`, 1))), forged},

		// Odd exp, nbf, iat (signed with Hanko's key).
		{"exp missing", hankoSigned(func(c map[string]any) { delete(c, "exp") }), deny(rMalformed)},
		{"exp null", hankoSigned(func(c map[string]any) { c["exp"] = nil }), deny(rMalformed)},
		{"exp as a string", hankoSigned(func(c map[string]any) { c["exp"] = fmt.Sprint(alice.ExpiresAt.Unix()) }), deny(rMalformed)},
		{"exp as an array", hankoSigned(func(c map[string]any) { c["exp"] = []int64{alice.ExpiresAt.Unix()} }), deny(rMalformed)},
		{"exp as a boolean", hankoSigned(func(c map[string]any) { c["exp"] = true }), deny(rMalformed)},
		{"exp 0", hankoSigned(func(c map[string]any) { c["exp"] = 0 }), deny(rExpired)},
		{"exp negative", hankoSigned(func(c map[string]any) { c["exp"] = -1 }), deny(rExpired)},
		{"exp in the past", hankoSigned(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), deny(rExpired)},
		{"exp just past the leeway", hankoSigned(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), deny(rExpired)},
		{"nbf in the future", hankoSigned(func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() }), deny(rNotYet)},
		{"nbf as a string", hankoSigned(func(c map[string]any) { c["nbf"] = "0" }), deny(rMalformed)},
		{"iat in the future", hankoSigned(func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() }), deny(rNotYet)},
		{"iat as an object", hankoSigned(func(c map[string]any) { c["iat"] = map[string]int{"s": 1} }), deny(rMalformed)},

		// Tokens that are not session tokens.
		{"no session_id", hankoSigned(func(c map[string]any) { delete(c, "session_id") }), deny(rNotSess)},
		{"empty session_id", hankoSigned(func(c map[string]any) { c["session_id"] = "" }), deny(rNotSess)},
		{"session_id as a number", hankoSigned(func(c map[string]any) { c["session_id"] = 42 }), deny(rMalformed)},
		{"no sub", hankoSigned(func(c map[string]any) { delete(c, "sub") }), deny(rNotSess)},
		{"webhook token", hankoSignedRaw(map[string]any{
			"evt": "user.update", "data": map[string]any{"id": alice.UserID}, "sub": alice.UserID,
			"aud": []string{"localhost"}, "iat": time.Now().Unix(), "exp": time.Now().Add(5 * time.Minute).Unix(),
		}), deny(rNotSess)},
		{"a session_id Hanko does not know", hankoSigned(func(c map[string]any) { c["session_id"] = "11111111-2222-4333-8444-555555555555" }), deny(rRevoked)},

		// kids with path characters.
		{"kid ../", sign(t, jose.RS256, a.rsa, map[string]any{"kid": "../../.well-known/jwks.json"}, payload(nil)), deny(rKey, rUnavail)},
		{"kid absolute path", sign(t, jose.RS256, a.rsa, map[string]any{"kid": "/etc/passwd"}, payload(nil)), deny(rKey, rUnavail)},
		{"kid URL", sign(t, jose.RS256, a.rsa, map[string]any{"kid": "http://127.0.0.1:1/key"}, payload(nil)), deny(rKey, rUnavail)},
		{"kid with NUL", sign(t, jose.RS256, a.rsa, map[string]any{"kid": kid + "\x00"}, payload(nil)), deny(rKey, rUnavail)},
		{"kid of 8 KiB", sign(t, jose.RS256, a.rsa, map[string]any{"kid": strings.Repeat("k", 8<<10)}, payload(nil)), deny(rKey, rUnavail)},
		{"no kid", sign(t, jose.RS256, a.rsa, nil, payload(nil)), deny(rKey)},

		// Sizes and shapes.
		{"over-long token", alice.Token + "." + strings.Repeat("a", hankoauth.MaxTokenLength), deny(rMalformed)},
		{"two dots", "a.b.c", deny(rMalformed)},
		{"JSON serialization", `{"payload":"` + valid[1] + `","protected":"` + valid[0] + `","signature":"` + valid[2] + `"}`, deny(rMalformed)},
	}
	for name, key := range hmacKeys {
		tests = append(tests, tc{"HS256 keyed with the public key, " + name, sign(t, jose.HS256, key, map[string]any{"kid": kid}, payload(nil)), deny(rMalformed)})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, edge := range allEdges {
				tt.want.check(t, edge, e.send(t, edge, bearerReq(tt.token)))
			}
		})
	}
}

// TestAttackTransport sends tokens in odd places and forms.
func TestAttackTransport(t *testing.T) {
	e := newEnv(t, nil, nil)
	h := e.hanko
	alice := h.MustMint(t, hankotest.Session{})
	bob := h.MustMint(t, hankotest.Session{})
	auth := func(v string) [2]string { return [2]string{"authorization", v} }
	cookie := func(v string) [2]string { return [2]string{"cookie", v} }
	tests := []struct {
		name  string
		r     req
		edges []string // default: all
		want  want
	}{
		{name: "control: bearer", r: req{headers: [][2]string{auth("Bearer " + alice.Token)}}, want: allow},
		{name: "control: cookie", r: req{headers: [][2]string{cookie("theme=dark; hanko=" + alice.Token)}}, want: allow},
		{name: "lower-case scheme", r: req{headers: [][2]string{auth("bearer " + alice.Token)}}, want: allow},
		{name: "two Authorization values", r: req{headers: [][2]string{auth("Bearer " + alice.Token), auth("Bearer " + bob.Token)}}, want: deny(rAmbiguous)},
		{name: "two equal Authorization values", r: req{headers: [][2]string{auth("Bearer " + alice.Token), auth("Bearer " + alice.Token)}}, want: allow},
		{name: "a valid and a garbage Authorization", r: req{headers: [][2]string{auth("Bearer " + alice.Token), auth("Bearer x.y.z")}}, want: deny(rAmbiguous)},
		{name: "Authorization and cookie disagree", r: req{headers: [][2]string{auth("Bearer " + alice.Token), cookie("hanko=" + bob.Token)}}, want: deny(rAmbiguous)},
		{name: "two session cookies", r: req{headers: [][2]string{cookie("hanko=" + alice.Token + "; hanko=" + bob.Token)}}, want: deny(rAmbiguous)},
		{name: "two cookie headers", r: req{headers: [][2]string{cookie("hanko=" + alice.Token), cookie("hanko=" + bob.Token)}}, want: deny(rAmbiguous)},
		{name: "quoted cookie", r: req{headers: [][2]string{cookie(`hanko="` + alice.Token + `"`)}}, want: allow},
		{name: "cookie name in another case", r: req{headers: [][2]string{cookie("Hanko=" + alice.Token)}}, want: deny(rMissing)},
		{name: "cookie name as a suffix", r: req{headers: [][2]string{cookie("xhanko=" + alice.Token)}}, want: deny(rMissing)},
		{name: "cookie in Cookie2", r: req{headers: [][2]string{{"cookie2", "hanko=" + alice.Token}}}, want: deny(rMissing)},
		{name: "cookie in Set-Cookie", r: req{headers: [][2]string{{"set-cookie", "hanko=" + alice.Token}}}, want: deny(rMissing)},
		{name: "token in authorization-bin", r: req{headers: [][2]string{{"authorization-bin", "Bearer " + alice.Token}}}, want: deny(rMissing)},
		{name: "token in x-hanko-user-id", r: req{headers: [][2]string{{"x-hanko-user-id", alice.UserID}}}, want: deny(rMissing)},
		{name: "Basic scheme", r: req{headers: [][2]string{auth("Basic " + alice.Token)}}, want: deny(rMalformed)},
		{name: "token without scheme", r: req{headers: [][2]string{auth(alice.Token)}}, want: deny(rMalformed)},
		{name: "bearer with two tokens", r: req{headers: [][2]string{auth("Bearer " + alice.Token + " " + bob.Token)}}, want: deny(rMalformed)},
		{name: "over-long bearer", r: req{headers: [][2]string{auth("Bearer " + strings.Repeat("a", hankoauth.MaxTokenLength+1))}}, want: deny(rMalformed)},
		{name: "over-long cookie", r: req{headers: [][2]string{cookie("hanko=" + strings.Repeat("a", hankoauth.MaxTokenLength+1))}}, want: deny(rMalformed)},

		// Check's two header fields.
		{name: "headers and header_map disagree", edges: []string{edgeCheck},
			r: req{checkMap: map[string]string{"authorization": "Bearer " + alice.Token}, headers: [][2]string{auth("Bearer " + bob.Token)}}, want: deny(rAmbiguous)},
		{name: "headers valid, header_map garbage", edges: []string{edgeCheck},
			r: req{checkMap: map[string]string{"authorization": "Bearer " + alice.Token}, headers: [][2]string{auth("Bearer garbage")}}, want: deny(rAmbiguous)},
		{name: "headers cookie, header_map bearer of another", edges: []string{edgeCheck},
			r: req{checkMap: map[string]string{"cookie": "hanko=" + alice.Token}, headers: [][2]string{auth("Bearer " + bob.Token)}}, want: deny(rAmbiguous)},
		{name: "header_map flood", edges: []string{edgeCheck},
			r: req{headers: flood(60000)}, want: deny("HEADERS_TOO_LARGE")},

		// Paths (the edges that have them).
		{name: "public path", edges: []string{edgeCheck, edgeHTTP}, r: req{path: "/public/app.css"}, want: allow},
		{name: "// before a public path", edges: []string{edgeCheck, edgeHTTP}, r: req{path: "//public/app.css"}, want: deny(rMissing)},
		{name: "// in a public path", edges: []string{edgeCheck, edgeHTTP}, r: req{path: "/public//../admin"}, want: deny(rMissing)},
		{name: "overlong UTF-8 dots", edges: []string{edgeCheck, edgeHTTP}, r: req{path: "/public/%C0%AE%C0%AE/admin"}, want: deny(rMissing)},
		{name: "encoded traversal", edges: []string{edgeCheck, edgeHTTP}, r: req{path: "/public/%2e%2e/admin"}, want: deny(rMissing)},
		{name: "forged X-Forwarded-Uri", edges: []string{edgeHTTP}, r: req{path: "/", headers: [][2]string{{"x-forwarded-uri", "/public/x"}}}, want: deny(rMissing)},
		{name: "forged X-Original-URI", edges: []string{edgeHTTP}, r: req{path: "/admin", headers: [][2]string{{"x-original-uri", "/public/x"}}}, want: deny(rMissing)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edges := tt.edges
			if edges == nil {
				edges = allEdges
			}
			for _, edge := range edges {
				tt.want.check(t, edge, e.send(t, edge, tt.r))
			}
		})
	}
}

func flood(n int) [][2]string {
	out := make([][2]string, n)
	for i := range out {
		out[i] = [2]string{"cookie", fmt.Sprintf("k%d=v", i)}
	}
	return out
}

// TestAttackHankoMisbehaves makes the fake Hanko misbehave; nothing it
// does may let a request in, and a failure of Hanko is "retry", never a
// cached rejection.
func TestAttackHankoMisbehaves(t *testing.T) {
	e := newEnv(t, nil, nil)
	h := e.hanko
	var evilCalls atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evilCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"is_valid":true,"claims":{"subject":"x","session_id":"y","expiration":"2099-01-01T00:00:00Z"}}`))
	}))
	defer evil.Close()
	onValidate := func(f func(w http.ResponseWriter, r *http.Request)) func(w http.ResponseWriter, r *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/sessions/validate" {
				return false
			}
			f(w, r)
			return true
		}
	}
	answer := func(status int, body string) func(w http.ResponseWriter, r *http.Request) bool {
		return onValidate(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		})
	}
	other := h.MustMint(t, hankotest.Session{})
	otherValid := `{"is_valid":true,"claims":{"subject":"` + other.UserID + `","session_id":"` + other.SessionID + `","expiration":"` + other.ExpiresAt.Format(time.RFC3339) + `"}}`
	tests := []struct {
		name string
		f    func(w http.ResponseWriter, r *http.Request) bool
		want want
	}{
		{"another user's session", answer(200, otherValid), deny(rMismatch)},
		{"500", answer(500, `{"code":500,"message":"Internal Server Error"}`), deny(rUnavail)},
		{"502 html", answer(502, `<html>bad gateway</html>`), deny(rUnavail)},
		{"307 to another origin", onValidate(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, evil.URL+"/sessions/validate", http.StatusTemporaryRedirect)
		}), deny(rUnavail)},
		{"308 to another origin", onValidate(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, evil.URL+"/sessions/validate", http.StatusPermanentRedirect)
		}), deny(rUnavail)},
		{"302 (POST becomes GET)", onValidate(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, evil.URL+"/sessions/validate", http.StatusFound)
		}), deny(rUnavail)},
		{"huge body", answer(200, `{"is_valid":false,"pad":"`+strings.Repeat("x", 2<<20)+`"}`), deny(rUnavail)},
		{"slow body", onValidate(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(200)
			_, _ = w.Write([]byte(`{"is_valid":`))
			w.(http.Flusher).Flush()
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		}), deny(rUnavail)},
		{"invalid JSON", answer(200, `{"is_valid":true,`), deny(rUnavail)},
		{"is_valid as a string", answer(200, `{"is_valid":"true"}`), deny(rUnavail)},
		{"is_valid true without claims", answer(200, `{"is_valid":true}`), deny(rUnavail)},
		{"empty 200", answer(200, ``), deny(rUnavail)},
		{"connection dropped", onValidate(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}), deny(rUnavail)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := h.MustMint(t, hankotest.Session{}) // never cached before
			e.setMisbehave(t, tt.f)
			for _, edge := range allEdges {
				tt.want.check(t, edge, e.send(t, edge, bearerReq(s.Token)))
			}
			if n := evilCalls.Load(); n != 0 {
				t.Fatalf("a redirect was followed: %d requests to its target", n)
			}
			// Hanko recovers: the session is valid (no rejection was cached).
			e.misbehave.Store(nil)
			allow.check(t, "validator after recovery", e.send(t, edgeValidator, bearerReq(s.Token)))
		})
	}
}

// TestAttackJWKS serves key sets that misbehave from the start: weak keys
// and keys sharing a kid are never trusted.
func TestAttackJWKS(t *testing.T) {
	a := newAttacker(t)
	spare, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // keeps a key set with a duplicate usable
	if err != nil {
		t.Fatal(err)
	}
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	jwks := func(keys ...jose.JSONWebKey) []byte {
		b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var served atomic.Pointer[[]byte]
	e := newEnv(t, nil, func(w http.ResponseWriter, r *http.Request) bool {
		p := served.Load()
		if r.URL.Path != "/.well-known/jwks.json" || p == nil {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*p)
		return true
	})
	h := e.hanko
	alice := h.MustMint(t, hankotest.Session{})
	body, _ := json.Marshal(claimsOf(alice, nil))
	_, kid := hankoPublicKey(t, h)
	var real jose.JSONWebKeySet
	_ = json.Unmarshal(h.JWKS(), &real)
	tests := []struct {
		name  string
		set   []byte
		token string
	}{
		{"weak RSA key", jwks(real.Keys[0], jose.JSONWebKey{Key: &weak.PublicKey, KeyID: "weak", Algorithm: "RS256", Use: "sig"}),
			sign(t, jose.RS256, weak, map[string]any{"kid": "weak"}, body)},
		{"attacker's key beside Hanko's under the same kid", jwks(real.Keys[0], jose.JSONWebKey{Key: &a.rsa.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"},
			jose.JSONWebKey{Key: &spare.PublicKey, KeyID: "spare", Algorithm: "ES256", Use: "sig"}),
			sign(t, jose.RS256, a.rsa, map[string]any{"kid": kid}, body)},
		{"symmetric key", jwks(real.Keys[0], jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "hmac", Algorithm: "HS256", Use: "sig"}),
			sign(t, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), map[string]any{"kid": "hmac"}, body)},
		{"encryption key", jwks(real.Keys[0], jose.JSONWebKey{Key: &a.rsa.PublicKey, KeyID: "enc", Algorithm: "RS256", Use: "enc"}),
			sign(t, jose.RS256, a.rsa, map[string]any{"kid": "enc"}, body)},
		{"EC key declared RS256", jwks(real.Keys[0], jose.JSONWebKey{Key: &a.ec.PublicKey, KeyID: "ec", Algorithm: "RS256", Use: "sig"}),
			sign(t, jose.ES256, a.ec, map[string]any{"kid": "ec"}, body)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A fresh validator per key set, so that its first fetch is it.
			served.Store(&tt.set)
			v, err := hankoauth.New(hankoauth.Config{APIURL: e.url, RequestTimeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			waitReady(t, v)
			_, err = v.Validate(context.Background(), tt.token)
			got := verdict{allowed: err == nil, reason: hankoauth.ReasonOf(err)}
			forged.check(t, edgeValidator, got)
		})
	}
}

func pkix2(cn string) pkix.Name { return pkix.Name{CommonName: cn} }

func mustDecode(t testing.TB, s string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
