package hankotest

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds request bodies so that the fake itself cannot be flooded.
const maxBody = 64 << 10

// Hanko's fixed answers.
const (
	msgRequired = "code=400, message=session_token is a required field"
)

// serveHTTP routes like Hanko's Echo router: exact paths, 404 for unknown
// paths, 405 (with Allow) for a known path and another method.
func (h *Hanko) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Vary", "Origin")
	w.Header().Set("X-Request-Id", requestID())

	var (
		e       Endpoint
		methods []string
		handle  func(http.ResponseWriter, *http.Request)
	)
	path := r.URL.Path
	if p := h.opts.pathPrefix; p != "" {
		if !strings.HasPrefix(path, p+"/") {
			writeError(w, r, http.StatusNotFound, "Not Found")
			return
		}
		path = path[len(p):]
	}
	switch {
	case path == "/.well-known/jwks.json":
		e, methods, handle = EndpointJWKS, []string{http.MethodGet}, h.serveJWKS
	case path == "/sessions/validate":
		e, methods = EndpointValidate, []string{http.MethodGet, http.MethodPost}
		handle = h.validateGet
		if r.Method == http.MethodPost {
			handle = h.validatePost
		}
	case path == "/health/alive":
		e, methods = EndpointHealth, []string{http.MethodGet}
		handle = func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]bool{"alive": true})
		}
	case path == "/health/ready":
		e, methods = EndpointHealth, []string{http.MethodGet}
		handle = func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
		}
	case path == "/dev/sessions":
		e, methods, handle = EndpointDevSessions, []string{http.MethodPost}, h.devCreate
	case strings.HasPrefix(path, "/dev/sessions/") && len(path) > len("/dev/sessions/") && !strings.Contains(path[len("/dev/sessions/"):], "/"):
		e, methods = EndpointDevSessions, []string{http.MethodDelete}
		handle = func(w http.ResponseWriter, r *http.Request) { h.devDelete(w, r, path) }
	default:
		writeError(w, r, http.StatusNotFound, "Not Found")
		return
	}
	h.calls[e].Add(1)
	w, done := h.injectFailure(w, r, e)
	if done {
		return
	}
	for _, m := range methods {
		if r.Method == m {
			handle(w, r)
			return
		}
	}
	w.Header().Set("Allow", "OPTIONS, "+strings.Join(methods, ", "))
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeError(w, r, http.StatusMethodNotAllowed, "Method Not Allowed")
}

func requestID() string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, 32)
	for i := range b {
		b[i] = letters[rand.IntN(len(letters))]
	}
	return string(b)
}

// writeJSON answers like Echo's c.JSON: application/json, a trailing
// newline.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errorBody is the shape of Hanko's error answers.
type errorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// writeError answers like Hanko's HTTP error handler (no body for HEAD).
func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, errorBody{Code: status, Message: msg})
}

func (h *Hanko) serveJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age="+strconv.Itoa(int(h.opts.jwksMaxAge/time.Second)))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(h.JWKS(), '\n'))
}

// validateResponse is Hanko's dto.ValidateSessionResponse, members in its
// order.
type validateResponse struct {
	IsValid        bool           `json:"is_valid"`
	Claims         map[string]any `json:"claims,omitempty"`
	ExpirationTime *time.Time     `json:"expiration_time,omitempty"`
	UserID         *string        `json:"user_id,omitempty"`
	IdleExpiresAt  *time.Time     `json:"idle_expires_at,omitempty"`
}

func writeInvalid(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, validateResponse{IsValid: false})
}

func writeValid(w http.ResponseWriter, c *sessionClaims, idleExpiresAt *time.Time) {
	exp, sub := c.expiration, c.subject
	writeJSON(w, http.StatusOK, validateResponse{
		IsValid:        true,
		Claims:         c.json,
		ExpirationTime: &exp,
		UserID:         &sub,
		IdleExpiresAt:  idleExpiresAt,
	})
}

// validateSessionRequest is the body of POST /sessions/validate.
type validateSessionRequest struct {
	SessionToken string `json:"session_token"`
}

type httpError struct {
	status int
	msg    string
}

// bindSessionToken reads the body as Echo's DefaultBinder.BindBody does:
// nothing for Content-Length 0, else by Content-Type prefix (JSON, XML,
// forms), 415 for anything else.
func bindSessionToken(w http.ResponseWriter, r *http.Request) (string, *httpError) {
	if r.ContentLength == 0 {
		return "", nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	var req validateSessionRequest
	ctype := r.Header.Get("Content-Type")
	var err error
	msg := "" // Echo's message for err, when it words it itself
	switch {
	case strings.HasPrefix(ctype, "application/json"):
		err = json.NewDecoder(r.Body).Decode(&req)
		var ute *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &ute):
			expected := ute.Type.String()
			if ute.Type == reflect.TypeFor[validateSessionRequest]() {
				expected = "dto.ValidateSessionRequest"
			}
			msg = fmt.Sprintf("Unmarshal type error: expected=%v, got=%v, field=%v, offset=%v", expected, ute.Value, ute.Field, ute.Offset)
		case errors.As(err, &se):
			msg = fmt.Sprintf("Syntax error: offset=%v, error=%v", se.Offset, se.Error())
		}
	case strings.HasPrefix(ctype, "application/xml"), strings.HasPrefix(ctype, "text/xml"):
		err = xml.NewDecoder(r.Body).Decode(&req)
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			msg = fmt.Sprintf("Syntax error: line=%v, error=%v", se.Line, se.Error())
		}
	case strings.HasPrefix(ctype, "application/x-www-form-urlencoded"):
		// Echo binds form values only to fields with a form tag, and
		// Hanko's request has none: the token is never read from a form.
		err = r.ParseForm()
	case strings.HasPrefix(ctype, "multipart/form-data"):
		if err = r.ParseMultipartForm(maxBody); err == nil && r.MultipartForm != nil {
			_ = r.MultipartForm.RemoveAll()
		}
	default:
		return "", &httpError{http.StatusUnsupportedMediaType, "Unsupported Media Type"}
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", &httpError{http.StatusRequestEntityTooLarge, "Request Entity Too Large"}
		}
		if msg == "" {
			msg = err.Error()
		}
		return "", &httpError{http.StatusBadRequest, msg}
	}
	return req.SessionToken, nil
}

// validatePost is POST /sessions/validate (Hanko's ValidateSessionFromBody).
// It refreshes the session's idle timer.
func (h *Hanko) validatePost(w http.ResponseWriter, r *http.Request) {
	raw, herr := bindSessionToken(w, r)
	if herr == nil && raw == "" {
		herr = &httpError{http.StatusBadRequest, msgRequired}
	}
	if herr != nil {
		writeError(w, r, herr.status, herr.msg)
		return
	}
	now := h.now()
	t, ok := h.verify(raw, now)
	if !ok {
		writeInvalid(w)
		return
	}
	c, err := extractClaims(t)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "failed to parse token claims: "+err.Error())
		return
	}
	lastUsed, idle, live := h.useSession(w, c.sessionID, now, true)
	if !live {
		writeInvalid(w)
		return
	}
	writeValid(w, c, idleExpiry(lastUsed, idle, c.expiration))
}

// useSession looks up the session row sid at now, as Hanko does for a
// token that verified: a missing row is not live; a row idle for longer
// than the idle timeout is deleted (and the cookie cleared on w). With
// touch (POST), the idle timer restarts at now. It returns the last use to
// report idle_expires_at from, and the idle timeout.
func (h *Hanko) useSession(w http.ResponseWriter, sid string, now time.Time, touch bool) (lastUsed time.Time, idle time.Duration, live bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	row, idle := h.sessions[sid], h.idle
	if row == nil {
		return time.Time{}, idle, false
	}
	if idle > 0 && now.Sub(row.lastUsed) > idle {
		delete(h.sessions, sid)
		h.sessionEvent(EventSessionDeleteExpire, sid, *row)
		h.deleteCookie(w)
		return time.Time{}, idle, false
	}
	if !touch {
		return row.lastUsed, idle, true
	}
	lastUsed = now.UTC()
	row.lastUsed = lastUsed.Round(time.Microsecond) // as PostgreSQL stores it
	return lastUsed, idle, true
}

// validateGet is GET /sessions/validate (Hanko's ValidateSession): it tries
// every "Authorization: Bearer" value, then every session cookie, and
// answers with the first that is a live session. It does not refresh the
// idle timer.
func (h *Hanko) validateGet(w http.ResponseWriter, r *http.Request) {
	now := h.now()
	for _, raw := range h.candidates(r) {
		t, ok := h.verify(raw, now)
		if !ok {
			continue
		}
		c, err := extractClaims(t)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "failed to parse token claims: "+err.Error())
			return
		}
		lastUsed, idle, live := h.useSession(w, c.sessionID, now, false)
		if !live {
			continue
		}
		writeValid(w, c, idleExpiry(lastUsed, idle, c.expiration))
		return
	}
	writeInvalid(w)
}

// extractorLimit is echo-jwt's cap on values taken from one source.
const extractorLimit = 20

// candidates lists tokens the way echo-jwt's extractors for
// "header:Authorization:Bearer,cookie:<name>" do. The prefix "Bearer" is
// matched case-insensitively and without the space; the JWT parser then
// skips leading white space.
func (h *Hanko) candidates(r *http.Request) []string {
	var out []string
	for i, v := range r.Header.Values("Authorization") {
		if len(v) > len("Bearer") && strings.EqualFold(v[:len("Bearer")], "Bearer") {
			out = append(out, v[len("Bearer"):])
			if i >= extractorLimit-1 {
				break
			}
		}
	}
	for i, c := range r.Cookies() {
		if c.Name == h.opts.cookieName {
			out = append(out, c.Value)
			if i >= extractorLimit-1 {
				break
			}
		}
	}
	return out
}

// idleExpiry is last_used + idle timeout, capped at the token's exp.
func idleExpiry(lastUsed time.Time, idle time.Duration, exp time.Time) *time.Time {
	if idle <= 0 {
		return nil
	}
	t := lastUsed.Add(idle)
	if t.After(exp) {
		t = exp
	}
	return &t
}

// deleteCookie is the Set-Cookie Hanko sends when a session idled out.
func (h *Hanko) deleteCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     h.opts.cookieName,
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteStrictMode,
	})
}

// devCreateRequest is the body of POST /dev/sessions; every member is
// optional.
type devCreateRequest struct {
	UserID   string   `json:"user_id"`
	Email    string   `json:"email"`
	Username string   `json:"username"`
	AMR      []string `json:"amr"`
}

type devCreateResponse struct {
	SessionToken string `json:"session_token"`
	UserID       string `json:"user_id"`
	SessionID    string `json:"session_id"`
}

// devCreate is POST /dev/sessions, not part of Hanko's API.
func (h *Hanko) devCreate(w http.ResponseWriter, r *http.Request) {
	var req devCreateRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, r, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
			return
		}
		writeError(w, r, http.StatusBadRequest, "invalid JSON body")
		return
	}
	if req.UserID != "" {
		if _, err := parseUUID(req.UserID); err != nil {
			writeError(w, r, http.StatusBadRequest, "user_id is not a UUID")
			return
		}
	}
	m, err := h.Mint(Session{UserID: req.UserID, Email: req.Email, Username: req.Username, AMR: req.AMR})
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "cannot mint a session")
		return
	}
	writeJSON(w, http.StatusOK, devCreateResponse{SessionToken: m.Token, UserID: m.UserID, SessionID: m.SessionID})
}

// devDelete is DELETE /dev/sessions/{id}, not part of Hanko's API.
func (h *Hanko) devDelete(w http.ResponseWriter, r *http.Request, path string) {
	if !h.Revoke(strings.TrimPrefix(path, "/dev/sessions/")) {
		writeError(w, r, http.StatusNotFound, "Not Found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
