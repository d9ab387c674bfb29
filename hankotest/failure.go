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
	"strconv"
	"time"
)

// Endpoint names a group of routes, for [Hanko.Fail] and [Hanko.Calls].
type Endpoint string

// The endpoints of the fake.
const (
	EndpointJWKS        Endpoint = "jwks"         // GET /.well-known/jwks.json
	EndpointValidate    Endpoint = "validate"     // POST and GET /sessions/validate
	EndpointHealth      Endpoint = "health"       // GET /health/alive and /health/ready
	EndpointDevSessions Endpoint = "dev_sessions" // POST /dev/sessions, DELETE /dev/sessions/{id}
)

var endpoints = []Endpoint{EndpointJWKS, EndpointValidate, EndpointHealth, EndpointDevSessions}

// Failure is an injected fault. For each request to its endpoint the fake
// first waits Delay (cut short when the client gives up or the server
// closes), then either drops the connection (Drop), or answers Status with
// Body (Status != 0), or — with only a Delay, Header or ClockSkew —
// handles the request normally. Header and ClockSkew apply to the answer
// either way.
type Failure struct {
	// Status, when not 0, is sent instead of the real answer; a status
	// outside 100-999 is sent as 500.
	Status int
	// Body is sent with Status; as application/json when it is valid
	// JSON, else as text/plain.
	Body string
	// Delay is waited before anything else.
	Delay time.Duration
	// Drop closes the connection without any response.
	Drop bool
	// Header is added to the answer, replacing the fake's own values of
	// the same names (such as Cache-Control).
	Header http.Header
	// ClockSkew shifts the answer's Date header: a Hanko whose clock is
	// ClockSkew ahead of the fake's clock (behind when negative).
	ClockSkew time.Duration
	// Times is how many requests fail; 0 means until ClearFailures.
	Times int
}

type failureState struct {
	f    Failure
	left int // requests left when f.Times > 0
}

// Fail injects f for requests to e, replacing any earlier failure of e.
// It applies before normal handling, also to requests that would get 404
// or 405 on that endpoint's paths.
func (h *Hanko) Fail(e Endpoint, f Failure) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures[e] = &failureState{f: f, left: f.Times}
}

// FailAll injects f for requests to every endpoint, as [Hanko.Fail] does
// for one. Times counts per endpoint.
func (h *Hanko) FailAll(f Failure) {
	for _, e := range endpoints {
		h.Fail(e, f)
	}
}

// ClearFailures removes all injected failures.
func (h *Hanko) ClearFailures() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.failures)
}

// Calls returns how many requests reached e, failed ones included.
func (h *Hanko) Calls(e Endpoint) int {
	if c := h.calls[e]; c != nil {
		return int(c.Load())
	}
	return 0
}

// ResetCalls sets all call counters to zero.
func (h *Hanko) ResetCalls() {
	for _, c := range h.calls {
		c.Store(0)
	}
}

// takeFailure returns the failure to apply to one request of e, if any.
func (h *Hanko) takeFailure(e Endpoint) (Failure, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.failures[e]
	if st == nil {
		return Failure{}, false
	}
	if st.f.Times > 0 {
		st.left--
		if st.left <= 0 {
			delete(h.failures, e)
		}
	}
	return st.f, true
}

// injectFailure applies a failure; it reports whether the request is
// done, and otherwise returns the writer to answer normally with.
func (h *Hanko) injectFailure(w http.ResponseWriter, r *http.Request, e Endpoint) (http.ResponseWriter, bool) {
	f, ok := h.takeFailure(e)
	if !ok {
		return w, false
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return w, true
		case <-h.done:
			return w, true
		}
	}
	if len(f.Header) > 0 || f.ClockSkew != 0 {
		hw := &headerWriter{ResponseWriter: w, header: f.Header.Clone()}
		if hw.header == nil {
			hw.header = make(http.Header)
		}
		if f.ClockSkew != 0 {
			hw.header.Set("Date", h.now().Add(f.ClockSkew).UTC().Format(http.TimeFormat))
		}
		w = hw
	}
	switch {
	case f.Drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return w, true
			}
		}
		panic(http.ErrAbortHandler) // aborts the response without logging
	case f.Status != 0:
		if f.Body != "" {
			if json.Valid([]byte(f.Body)) {
				w.Header().Set("Content-Type", "application/json")
			} else {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			}
		}
		if f.Status < 100 || f.Status > 999 {
			f.Status = http.StatusInternalServerError
		}
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.Body))
		return w, true
	}
	return w, false
}

// headerWriter sets header on the answer when it is written, over the
// values the handler set.
type headerWriter struct {
	http.ResponseWriter
	header  http.Header
	written bool
}

func (w *headerWriter) WriteHeader(status int) {
	if !w.written {
		w.written = true
		for k, vs := range w.header {
			w.ResponseWriter.Header()[http.CanonicalHeaderKey(k)] = vs
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *headerWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// KeyFault is a way of breaking the JWKS, for [Hanko.BadJWKS].
type KeyFault int

// The key faults.
const (
	// WeakKey adds a 1024-bit RSA key (with its own kid) after the real
	// keys: a key no validator should trust.
	WeakKey KeyFault = iota + 1
	// DuplicateKid adds a second, different RSA key under the kid of the
	// current signing key: a set where that kid is ambiguous.
	DuplicateKid
	// SymmetricKey adds an "oct" key (an HMAC secret, published) after the
	// real keys.
	SymmetricKey
	// NoKeys serves an empty key set.
	NoKeys
)

// BadJWKS returns a Failure that serves the fake's key set broken as fault
// says, with status 200 and Hanko's headers: inject it with
// h.Fail(EndpointJWKS, f). Tokens are still signed with the real keys.
func (h *Hanko) BadJWKS(fault KeyFault) (Failure, error) {
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(h.JWKS(), &doc); err != nil {
		return Failure{}, err
	}
	switch fault {
	case WeakKey:
		k, err := rsaJWK(1024, newUUID())
		if err != nil {
			return Failure{}, err
		}
		doc.Keys = append(doc.Keys, k)
	case DuplicateKid:
		k, err := rsaJWK(2048, h.KeyID())
		if err != nil {
			return Failure{}, err
		}
		doc.Keys = append(doc.Keys, k)
	case SymmetricKey:
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		doc.Keys = append(doc.Keys, map[string]any{
			"alg": "HS256", "k": base64.RawURLEncoding.EncodeToString(secret),
			"kid": newUUID(), "kty": "oct", "use": "sig",
		})
	case NoKeys:
		doc.Keys = []map[string]any{}
	default:
		return Failure{}, errors.New("hankotest: unknown key fault")
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return Failure{}, err
	}
	return Failure{
		Status: http.StatusOK,
		Body:   string(body),
		Header: http.Header{"Cache-Control": {"max-age=" + strconv.Itoa(int(h.opts.jwksMaxAge/time.Second))}},
	}, nil
}

// rsaJWK generates an RSA key of bits and returns its public JWK.
func rsaJWK(bits int, kid string) (map[string]any, error) {
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("hankotest: generating RSA key: %w", err)
	}
	return map[string]any{
		"alg": "RS256",
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(priv.E)).Bytes()),
		"kid": kid,
		"kty": "RSA",
		"n":   base64.RawURLEncoding.EncodeToString(priv.N.Bytes()),
		"use": "sig",
	}, nil
}
