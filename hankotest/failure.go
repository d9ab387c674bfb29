package hankotest

import (
	"encoding/json"
	"net/http"
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
// Body (Status != 0), or — with only a Delay — handles the request
// normally.
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

// injectFailure applies a failure; it reports whether the request is done.
func (h *Hanko) injectFailure(w http.ResponseWriter, r *http.Request, e Endpoint) bool {
	f, ok := h.takeFailure(e)
	if !ok {
		return false
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true
		case <-h.done:
			return true
		}
	}
	switch {
	case f.Drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return true
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
		return true
	}
	return false
}
