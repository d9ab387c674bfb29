package webhook

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/hankoauth/hankoauth"
)

// DefaultPath is where hanko-authz serves the Handler.
const DefaultPath = "/webhooks/hanko"

// maxBody bounds a delivery. Hanko's are 1 to 4 KiB (a user with many
// credentials makes user events larger).
const maxBody = 256 << 10

// The results a delivery is reported with.
const (
	ResultApplied  = "applied"
	ResultIgnored  = "ignored"
	ResultRejected = "rejected"
)

// Revoker applies revocations: a *hankoauth.Validator, or something that
// also passes them on to other replicas.
type Revoker interface {
	Revoke(r hankoauth.Revocation, src hankoauth.RevocationSource) (bool, error)
}

// Option configures a Handler.
type Option func(*Handler)

// WithRevoker makes the Handler apply revocations through r instead of
// the validator itself.
func WithRevoker(r Revoker) Option { return func(h *Handler) { h.revoker = r } }

// WithLogger sets the logger of the Handler's decisions. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithObserver makes the Handler report each delivery: its event (as the
// body named it; bound it before using it as a metric label) and its
// result (ResultApplied, ResultIgnored or ResultRejected).
func WithObserver(f func(event, result string)) Option { return func(h *Handler) { h.observe = f } }

// Handler is the http.Handler of Hanko's webhook deliveries. Create it
// with NewHandler.
type Handler struct {
	v       *hankoauth.Validator
	revoker Revoker
	log     *slog.Logger
	observe func(event, result string)
}

// NewHandler returns a Handler that verifies deliveries with v (its JWKS,
// audience and clock) and applies their revocations to v, or through the
// WithRevoker option.
func NewHandler(v *hankoauth.Validator, opts ...Option) *Handler {
	h := &Handler{v: v, revoker: v, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(h)
	}
	return h
}

// delivery is the body Hanko POSTs.
type delivery struct {
	Token string `json:"token"`
	Event string `json:"event"`
}

// sessionData is the part of a session row that matters here.
type sessionData struct {
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// userData is the part of a user that matters here.
type userData struct {
	ID string `json:"id"`
}

// rejection is a delivery the Handler refuses.
type rejection struct {
	status int
	reason string // short, fixed: sent to the client and logged
	err    error  // detail for the log, never the token
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	event, result, rej := h.handle(w, r)
	if rej != nil {
		h.report(event, ResultRejected)
		attrs := []any{"status", rej.status, "reason", rej.reason, "event", shorten(event), "remote_addr", r.RemoteAddr}
		if rej.err != nil {
			attrs = append(attrs, "error", rej.err.Error())
		}
		level := slog.LevelWarn
		if rej.status >= 500 {
			level = slog.LevelError
		}
		h.log.Log(r.Context(), level, "hanko webhook rejected", attrs...)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(rej.status)
		_, _ = io.WriteString(w, rej.reason+"\n")
		return
	}
	h.report(event, result)
	w.WriteHeader(http.StatusNoContent)
	h.log.Debug("hanko webhook", "event", event, "result", result, "elapsed", time.Since(start))
}

func (h *Handler) report(event, result string) {
	if h.observe != nil {
		h.observe(event, result)
	}
}

// handle decides a delivery: its event, and a result or a rejection.
func (h *Handler) handle(w http.ResponseWriter, r *http.Request) (string, string, *rejection) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return "", "", &rejection{status: http.StatusMethodNotAllowed, reason: "method not allowed"}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return "", "", &rejection{status: http.StatusUnsupportedMediaType, reason: "content type must be application/json"}
	}
	var d delivery
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(&d); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", "", &rejection{status: http.StatusRequestEntityTooLarge, reason: "body too large"}
		}
		return "", "", &rejection{status: http.StatusBadRequest, reason: "malformed body", err: err}
	}
	if d.Token == "" || d.Event == "" {
		return d.Event, "", &rejection{status: http.StatusBadRequest, reason: "body needs token and event"}
	}
	wh, err := h.v.VerifyWebhook(r.Context(), d.Token)
	if err != nil {
		if errors.Is(err, hankoauth.ErrUnavailable) {
			return d.Event, "", &rejection{status: http.StatusServiceUnavailable, reason: "cannot verify webhooks now", err: err}
		}
		return d.Event, "", &rejection{status: http.StatusUnauthorized, reason: "untrusted token: " + string(hankoauth.ReasonOf(err)), err: err}
	}
	if wh.Event != d.Event {
		return d.Event, "", &rejection{status: http.StatusBadRequest, reason: "event does not match the token's evt"}
	}

	var rev hankoauth.Revocation
	switch {
	case strings.HasPrefix(wh.Event, "session.delete."):
		var s sessionData
		if err := json.Unmarshal(wh.Data, &s); err != nil || s.ID == "" || s.ExpiresAt.IsZero() {
			return wh.Event, "", &rejection{status: http.StatusBadRequest, reason: "session data without id or expires_at", err: err}
		}
		rev = hankoauth.Revocation{SessionID: s.ID, At: s.ExpiresAt}
	case wh.Event == "user.delete":
		var u userData
		if err := json.Unmarshal(wh.Data, &u); err != nil || u.ID == "" {
			return wh.Event, "", &rejection{status: http.StatusBadRequest, reason: "user data without id", err: err}
		}
		// Hanko sends the event after deleting the user and its
		// sessions: every session issued up to then is gone.
		rev = hankoauth.Revocation{UserID: u.ID, At: wh.IssuedAt}
	default:
		return wh.Event, ResultIgnored, nil
	}
	changed, err := h.revoker.Revoke(rev, hankoauth.SourceWebhook)
	if err != nil {
		return wh.Event, "", &rejection{status: http.StatusServiceUnavailable, reason: "revocation not kept", err: err}
	}
	h.log.Info("hanko webhook applied", "event", wh.Event, "session_id", rev.SessionID, "user_id", rev.UserID, "new", changed)
	return wh.Event, ResultApplied, nil
}

// shorten bounds an event name taken from a body that was not trusted,
// for the log.
func shorten(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
