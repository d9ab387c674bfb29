package hankotest

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
)

// emailClaim is Hanko's email claim and the email member of validation
// answers.
type emailClaim struct {
	Address    string `json:"address"`
	IsPrimary  bool   `json:"is_primary"`
	IsVerified bool   `json:"is_verified"`
}

var b64 = base64.RawURLEncoding

func signJWT(k *signingKey, claims any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "RS256", "kid": k.kid, "typ": "JWT"})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("hankotest: encoding claims: %w", err)
	}
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.priv, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("hankotest: signing: %w", err)
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// decodeSegment decodes base64url with or without padding, and standard
// base64, as Hanko's JWT library (lestrrat-go/jwx) does.
func decodeSegment(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("illegal base64")
}

// token is a verified JWT's claims, typed the way jwx types them.
type token struct {
	sub      string
	iss      string
	aud      []string
	exp      time.Time // zero when absent
	iat      time.Time
	nbf      time.Time
	private  map[string]any // all claims but iss, sub, aud, exp, nbf, iat, jti
	hasSubID bool           // session_id present
}

// verify does what Hanko's session manager does (jwx's jwt.Parse with the
// key set): compact serialization (leading white space ignored), alg RS256
// with a kid naming one of the keys, a valid signature, well-typed
// registered claims, and exp/iat/nbf at one-second resolution. It reports
// only whether the token is good; Hanko does not tell why.
func (h *Hanko) verify(raw string, now time.Time) (*token, bool) {
	raw = strings.TrimLeftFunc(raw, unicode.IsSpace)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, false
	}
	hb, err := decodeSegment(parts[0])
	if err != nil {
		return nil, false
	}
	var hdr map[string]any
	if !isObject(hb) || json.Unmarshal(hb, &hdr) != nil {
		return nil, false
	}
	alg, _ := hdr["alg"].(string)
	kid, _ := hdr["kid"].(string)
	if alg != "RS256" || kid == "" {
		return nil, false
	}
	k := h.keyByID(kid)
	if k == nil {
		return nil, false
	}
	sig, err := decodeSegment(parts[2])
	if err != nil {
		return nil, false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&k.priv.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return nil, false
	}
	pb, err := decodeSegment(parts[1])
	if err != nil {
		return nil, false
	}
	t, err := parseClaims(pb)
	if err != nil {
		return nil, false
	}
	now = now.Truncate(time.Second)
	if !t.exp.IsZero() && t.exp.Unix() != 0 && !now.Before(t.exp) {
		return nil, false // expired
	}
	if !t.iat.IsZero() && now.Before(t.iat) {
		return nil, false // issued in the future
	}
	if !t.nbf.IsZero() && now.Before(t.nbf) {
		return nil, false // not yet valid
	}
	return t, true
}

func isObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

func parseClaims(b []byte) (*token, error) {
	if !isObject(b) {
		return nil, errors.New("payload is not an object")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	t := &token{private: make(map[string]any)}
	for name, v := range raw {
		var err error
		switch name {
		case "sub":
			err = json.Unmarshal(v, &t.sub)
		case "iss":
			err = json.Unmarshal(v, &t.iss)
		case "jti":
			var s string
			err = json.Unmarshal(v, &s)
		case "aud":
			t.aud, err = parseAudience(v)
		case "exp":
			t.exp, err = parseNumericDate(v)
		case "iat":
			t.iat, err = parseNumericDate(v)
		case "nbf":
			t.nbf, err = parseNumericDate(v)
		default:
			var x any
			err = json.Unmarshal(v, &x)
			t.private[name] = x
			if name == "session_id" {
				t.hasSubID = true
			}
		}
		if err != nil {
			return nil, fmt.Errorf("claim %q: %w", name, err)
		}
		if string(bytes.TrimSpace(v)) == "null" && (name == "sub" || name == "iss" || name == "jti" || name == "aud" || name == "exp" || name == "iat" || name == "nbf") {
			return nil, fmt.Errorf("claim %q is null", name)
		}
	}
	return t, nil
}

func parseAudience(v json.RawMessage) ([]string, error) {
	var one string
	if err := json.Unmarshal(v, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(v, &many); err != nil {
		return nil, err
	}
	return many, nil
}

// Dates Hanko can print: years 1 to 9999. Outside that range real Hanko
// fails to encode its answer (HTTP 500); the fake rejects such tokens.
const (
	minDate = -62135596800
	maxDate = 253402300799
)

func parseNumericDate(v json.RawMessage) (time.Time, error) {
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return time.Time{}, err
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < minDate || f > maxDate {
		return time.Time{}, errors.New("invalid numeric date")
	}
	return time.Unix(int64(f), 0).UTC(), nil // jwx keeps whole seconds
}

// sessionClaims is what Hanko's dto.GetClaimsFromToken extracts.
type sessionClaims struct {
	subject    string
	sessionID  string
	expiration time.Time
	json       map[string]any // the "claims" member of the answer
}

// extractClaims mirrors dto.GetClaimsFromToken; an error becomes HTTP 400.
func extractClaims(t *token) (*sessionClaims, error) {
	c := &sessionClaims{subject: nilUUID, sessionID: nilUUID, expiration: t.exp}
	if t.sub != "" {
		s, err := parseUUID(t.sub)
		if err != nil {
			return nil, fmt.Errorf("'subject' is not a uuid: %w", err)
		}
		c.subject = s
	}
	if v, ok := t.private["session_id"]; ok {
		// Real Hanko panics (HTTP 500) on a non-string session_id.
		str, isStr := v.(string)
		if !isStr {
			return nil, errors.New("'session_id' is not a uuid: not a string")
		}
		s, err := parseUUID(str)
		if err != nil {
			return nil, fmt.Errorf("'session_id' is not a uuid: %w", err)
		}
		c.sessionID = s
	}
	m := map[string]any{
		"subject":    c.subject,
		"expiration": c.expiration,
		"session_id": c.sessionID,
	}
	if !t.iat.IsZero() {
		m["issued_at"] = t.iat
	}
	if len(t.aud) > 0 {
		m["audience"] = t.aud
	}
	if t.iss != "" {
		m["issuer"] = t.iss
	}
	if v, ok := t.private["email"].(map[string]any); ok {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("failed to marshal 'email' claim: %w", err)
		}
		var e emailClaim
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("failed to unmarshal 'email' claim: %w", err)
		}
		m["email"] = e
	}
	if v, ok := t.private["username"].(string); ok {
		m["username"] = v
	}
	for k, v := range t.private {
		switch k {
		case "email", "username", "session_id":
		default:
			m[k] = v // custom claims are flattened in and win, as in Hanko
		}
	}
	c.json = m
	return c, nil
}
