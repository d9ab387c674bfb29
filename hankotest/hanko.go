package hankotest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Hanko is a fake Hanko v3 backend: a key set, a session table and the
// HTTP endpoints a session validator talks to. Its methods are safe for
// concurrent use. Serve it with [Hanko.Handler] or start it with
// [NewServer].
type Hanko struct {
	opts  options // read-only after New; the idle timeout lives in idle
	calls map[Endpoint]*atomic.Int64
	done  chan struct{} // closed by stop; aborts injected delays
	once  sync.Once

	rotating sync.Mutex // serialises RotateKey

	mu       sync.Mutex // guards the fields below
	keys     []*signingKey
	jwks     []byte
	sessions map[string]*sessionRow // by canonical session id
	idle     time.Duration
	failures map[Endpoint]*failureState
}

type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
}

// sessionRow is what Hanko keeps in its sessions table.
type sessionRow struct {
	userID    string
	expiresAt time.Time
	lastUsed  time.Time // at PostgreSQL's microsecond precision
}

// Session describes a session to mint with [Hanko.Mint]. Zero fields take
// Hanko's defaults.
type Session struct {
	// UserID is the sub claim; it must be a UUID. Empty: a random UUID v4.
	UserID string
	// Email, when set, becomes the email claim
	// {address, is_primary: true, is_verified}.
	Email string
	// EmailVerified is email.is_verified; nil means true.
	EmailVerified *bool
	// Username, when set, becomes the username claim.
	Username string
	// AMR, when set, becomes the amr claim (e.g. "pwd", "otp", "passkey").
	AMR []string
	// Claims are custom claims, as Hanko's JWT templates add them. The
	// standard claims Mint sets win over custom claims of the same name.
	Claims map[string]any
	// Lifetime is exp - iat; 0 means the server's lifetime. A negative
	// lifetime mints a token that has already expired.
	Lifetime time.Duration
	// Audience is the aud claim; nil means the server's audience.
	Audience []string
}

// Minted is a session token minted by [Hanko.Mint].
type Minted struct {
	Token     string    // the signed session JWT
	UserID    string    // its sub claim
	SessionID string    // its session_id claim, the key of the session row
	ExpiresAt time.Time // its exp claim
}

// New returns a fake Hanko with one freshly generated signing key and no
// sessions.
func New(opts ...Option) (*Hanko, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	h := &Hanko{
		opts:     o,
		calls:    make(map[Endpoint]*atomic.Int64),
		done:     make(chan struct{}),
		sessions: make(map[string]*sessionRow),
		idle:     o.idle,
		failures: make(map[Endpoint]*failureState),
	}
	for _, e := range endpoints {
		h.calls[e] = new(atomic.Int64)
	}
	if _, err := h.RotateKey(); err != nil {
		return nil, err
	}
	return h, nil
}

// stop aborts injected delays; Server.Close calls it.
func (h *Hanko) stop() { h.once.Do(func() { close(h.done) }) }

func (h *Hanko) now() time.Time { return h.opts.now() }

// RotateKey generates a new signing key, like a Hanko restart with a new
// key appended to secrets.keys: new tokens carry the new kid, the JWKS
// lists the old keys and then the new one, and tokens signed with the old
// keys stay valid. It returns the new kid.
func (h *Hanko) RotateKey() (kid string, err error) {
	h.rotating.Lock() // one rotation at a time: each gets its own key
	defer h.rotating.Unlock()
	h.mu.Lock()
	n := len(h.keys)
	h.mu.Unlock()
	var priv *rsa.PrivateKey
	switch {
	case n == 0 && h.opts.key != nil:
		priv = h.opts.key
	case h.opts.freshKeys:
		priv, err = rsa.GenerateKey(rand.Reader, h.opts.keyBits)
	default:
		priv, err = poolKey(h.opts.keyBits, n)
	}
	if err != nil {
		return "", fmt.Errorf("hankotest: RSA key: %w", err)
	}
	k := &signingKey{kid: newUUID(), priv: priv}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.keys = append(h.keys, k)
	h.jwks, err = marshalJWKS(h.keys)
	return k.kid, err
}

// jwk is a public key with its members in the order Hanko serves them.
type jwk struct {
	Alg string `json:"alg"`
	E   string `json:"e"`
	Kid string `json:"kid"`
	Kty string `json:"kty"`
	N   string `json:"n"`
	Use string `json:"use"`
}

func marshalJWKS(keys []*signingKey) ([]byte, error) {
	doc := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(keys))}
	for _, k := range keys {
		pub := &k.priv.PublicKey
		doc.Keys = append(doc.Keys, jwk{
			Alg: "RS256",
			E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
			Kid: k.kid,
			Kty: "RSA",
			N:   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			Use: "sig",
		})
	}
	return json.Marshal(doc)
}

// KeyID returns the kid of the current signing key.
func (h *Hanko) KeyID() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.keys[len(h.keys)-1].kid
}

// JWKS returns the public JSON Web Key Set, as served at
// /.well-known/jwks.json (without the trailing newline).
func (h *Hanko) JWKS() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]byte(nil), h.jwks...)
}

func (h *Hanko) currentKey() *signingKey {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.keys[len(h.keys)-1]
}

func (h *Hanko) keyByID(kid string) *signingKey {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range h.keys {
		if k.kid == kid {
			return k
		}
	}
	return nil
}

// SetIdleTimeout changes the idle timeout at run time (0 disables it); see
// [WithIdleTimeout].
func (h *Hanko) SetIdleTimeout(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.idle = max(d, 0)
}

// Mint creates a session row and returns its session token, signed with the
// current key and shaped like Hanko's: header {alg: RS256, kid, typ: JWT};
// claims sub, session_id, aud, iat, exp, and email, username, amr, iss and
// custom claims when set.
func (h *Hanko) Mint(s Session) (Minted, error) {
	userID := s.UserID
	if userID == "" {
		userID = newUUID()
	} else if _, err := parseUUID(userID); err != nil {
		return Minted{}, fmt.Errorf("hankotest: user id %q is not a UUID", userID)
	}
	lifetime := s.Lifetime
	if lifetime == 0 {
		lifetime = h.opts.lifetime
	}
	aud := s.Audience
	if aud == nil {
		aud = h.opts.audience
	}
	now := h.now()
	exp := now.Add(lifetime)
	sessionID := newUUID()

	claims := make(map[string]any, len(s.Claims)+8)
	for k, v := range s.Claims {
		claims[k] = v
	}
	claims["sub"] = userID
	claims["session_id"] = sessionID
	claims["aud"] = aud
	claims["iat"] = now.Unix()
	claims["exp"] = exp.Unix()
	if h.opts.issuer != "" {
		claims["iss"] = h.opts.issuer
	}
	if s.Email != "" {
		verified := s.EmailVerified == nil || *s.EmailVerified
		claims["email"] = emailClaim{Address: s.Email, IsPrimary: true, IsVerified: verified}
	}
	if s.Username != "" {
		claims["username"] = s.Username
	}
	if s.AMR != nil {
		claims["amr"] = s.AMR
	}
	token, err := signJWT(h.currentKey(), claims)
	if err != nil {
		return Minted{}, err
	}
	h.mu.Lock()
	h.sessions[sessionID] = &sessionRow{
		userID:    userID,
		expiresAt: exp.UTC(),
		lastUsed:  now.UTC().Round(time.Microsecond),
	}
	h.mu.Unlock()
	return Minted{Token: token, UserID: userID, SessionID: sessionID, ExpiresAt: time.Unix(exp.Unix(), 0).UTC()}, nil
}

// MustMint is like [Hanko.Mint] but fails the test on error.
func (h *Hanko) MustMint(tb testing.TB, s Session) Minted {
	tb.Helper()
	m, err := h.Mint(s)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// Sign signs arbitrary claims with the current key, with the same header as
// session tokens. No session row is created, so a token from Sign never
// validates as a session unless its session_id names a row created by
// [Hanko.Mint]. Use it to craft tokens Hanko would not issue: without exp,
// without session_id (like Hanko's webhook tokens), with a foreign aud, …
func (h *Hanko) Sign(claims map[string]any) (string, error) {
	if claims == nil {
		return "", errors.New("hankotest: nil claims")
	}
	return signJWT(h.currentKey(), claims)
}

// Revoke deletes a session row, like POST /logout or Hanko's admin
// DELETE /users/{user}/sessions/{session}. From then on the session's
// tokens validate as {"is_valid":false}, although their signature still
// verifies. It reports whether the session existed.
func (h *Hanko) Revoke(sessionID string) bool {
	id, err := parseUUID(sessionID)
	if err != nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.sessions[id]; !ok {
		return false
	}
	delete(h.sessions, id)
	return true
}

// Handler returns the HTTP handler serving Hanko's endpoints; see the
// package documentation for the list.
func (h *Hanko) Handler() http.Handler { return http.HandlerFunc(h.serveHTTP) }
