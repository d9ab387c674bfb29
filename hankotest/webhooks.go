package hankotest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Hanko's webhook tokens: sub, and exp - iat.
const (
	webhookSubject  = "hanko webhooks"
	webhookLifetime = 300 * time.Second
	webhookTimeout  = 10 * time.Second // Hanko's delivery timeout; it never retries
)

// The events the fake sends, as Hanko names them.
const (
	EventSessionCreateAdmin  = "session.create.admin"
	EventSessionDeleteRevoke = "session.delete.admin.revoke"
	EventSessionDeleteLogout = "session.delete.explicit.logout"
	EventSessionDeleteLimit  = "session.delete.passive.limit"
	EventSessionDeleteExpire = "session.delete.passive.expire"
	EventUserDelete          = "user.delete"
)

// webhookSub is one callback registered with WithWebhook.
type webhookSub struct {
	url    string
	events []string // Hanko's event filters ("session", "user.delete"); empty: all
}

// WithWebhook makes the fake Hanko deliver webhooks to callback, the way
// Hanko does: a POST of {"token": "<JWT>", "event": "<name>"} with the
// JWT signed by the current session key, claims sub "hanko webhooks",
// evt, aud (the session audience), iat, exp = iat + 300 s and data (the
// session row for session events, the user for user.delete), each from
// its own goroutine, with a 10 s timeout and no retry, in no guaranteed
// order. events filters like Hanko's hook configuration: "session"
// subscribes to every session.* event, "user.delete" to that one; none
// means every event.
//
// The fake sends session.create.admin on Mint, session.delete.admin.revoke
// on Revoke, session.delete.explicit.logout on Logout,
// session.delete.passive.limit when a Mint evicts a session beyond
// WithSessionLimit, session.delete.passive.expire when an idle-expired
// session is validated, and user.delete on DeleteUser (which, like Hanko,
// sends no session event for the sessions it deletes). Server.Close waits
// for deliveries under way. See [Hanko.Deliveries].
func WithWebhook(callback string, events ...string) Option {
	return func(o *options) {
		o.webhooks = append(o.webhooks, webhookSub{url: callback, events: append([]string(nil), events...)})
	}
}

// WithSessionLimit sets Hanko's session.limit: a Mint for a user that
// already has n sessions deletes the user's oldest session first (and
// sends session.delete.passive.limit). The default, 0, means no limit.
func WithSessionLimit(n int) Option {
	return func(o *options) { o.sessionLimit = n }
}

// Delivery is the outcome of one webhook delivery.
type Delivery struct {
	URL    string
	Event  string
	Status int   // the receiver's status; 0 when there was none
	Err    error // a transport error or timeout
}

// webhookState is the fake's delivery machinery.
type webhookState struct {
	client *http.Client
	wg     sync.WaitGroup

	mu   sync.Mutex
	done []Delivery
}

// Deliveries returns the outcomes of the deliveries finished so far, in
// the order they finished.
func (h *Hanko) Deliveries() []Delivery {
	h.hooks.mu.Lock()
	defer h.hooks.mu.Unlock()
	return slices.Clone(h.hooks.done)
}

// WaitWebhooks waits for the deliveries under way.
func (h *Hanko) WaitWebhooks() { h.hooks.wg.Wait() }

// sessionData is a session row as Hanko's webhooks carry it
// (persistence/models.Session), members in its order.
type sessionData struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	UserAgent *string   `json:"user_agent"`
	IPAddress *string   `json:"ip_address"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	ExpiresAt time.Time `json:"expires_at"`
	LastUsed  time.Time `json:"last_used"`
}

// userData is the part of Hanko's admin user that user.delete carries.
type userData struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// rowData is the session row sid as an event's data. Events about a
// deleted row carry it as read back from the database (microseconds);
// session.create.* carry it as created (nanoseconds). h.mu is not needed.
func rowData(sid string, row sessionRow, fromDB bool) sessionData {
	d := sessionData{
		ID: sid, UserID: row.userID,
		CreatedAt: row.createdAt, UpdatedAt: row.createdAt,
		ExpiresAt: row.expiresAt, LastUsed: row.lastUsed,
	}
	if row.lastUsed.After(d.UpdatedAt) {
		d.UpdatedAt = row.lastUsed
	}
	if fromDB {
		d.CreatedAt = d.CreatedAt.Round(time.Microsecond)
		d.UpdatedAt = d.UpdatedAt.Round(time.Microsecond)
		d.ExpiresAt = d.ExpiresAt.Round(time.Microsecond)
		d.LastUsed = d.LastUsed.Round(time.Microsecond)
	}
	return d
}

// sessionEvent sends a session event about row sid. It may be called with
// h.mu held: the token is signed on the delivering goroutine.
func (h *Hanko) sessionEvent(event, sid string, row sessionRow) {
	h.sendWebhook(event, rowData(sid, row, event != EventSessionCreateAdmin))
}

// sendWebhook delivers event with data to every callback subscribed.
func (h *Hanko) sendWebhook(event string, data any) {
	for _, sub := range h.opts.webhooks {
		if !subscribed(sub.events, event) {
			continue
		}
		h.hooks.wg.Add(1)
		go func() {
			defer h.hooks.wg.Done()
			d := Delivery{URL: sub.url, Event: event}
			d.Status, d.Err = h.deliver(sub.url, event, data)
			h.hooks.mu.Lock()
			h.hooks.done = append(h.hooks.done, d)
			h.hooks.mu.Unlock()
		}()
	}
}

// subscribed reports whether a hook with these filters gets event: a
// filter names an event or a dot-separated prefix of it.
func subscribed(filters []string, event string) bool {
	if len(filters) == 0 {
		return true
	}
	for _, f := range filters {
		if event == f || strings.HasPrefix(event, f+".") {
			return true
		}
	}
	return false
}

// webhookToken signs the token of an event.
func (h *Hanko) webhookToken(event string, data any) (string, error) {
	now := h.now()
	return signJWT(h.currentKey(), map[string]any{
		"sub":  webhookSubject,
		"evt":  event,
		"aud":  h.opts.audience,
		"iat":  now.Unix(),
		"exp":  now.Add(webhookLifetime).Unix(),
		"data": data,
	})
}

// deliver POSTs one delivery, as Hanko's webhook worker does.
func (h *Hanko) deliver(callback, event string, data any) (int, error) {
	token, err := h.webhookToken(event, data)
	if err != nil {
		return 0, err
	}
	body, err := json.Marshal(struct {
		Token string `json:"token"`
		Event string `json:"event"`
	}{token, event})
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), webhookTimeout)
	defer cancel()
	go func() { // Close cuts a delivery short
		select {
		case <-h.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, callback, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.hooks.httpClient().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

func (w *webhookState) httpClient() *http.Client {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.client == nil {
		w.client = &http.Client{Timeout: webhookTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return w.client
}

// Logout deletes a session row like POST /logout, and sends
// session.delete.explicit.logout. It reports whether the session existed.
func (h *Hanko) Logout(sessionID string) bool {
	return h.deleteSession(sessionID, EventSessionDeleteLogout)
}

// deleteSession deletes the row sessionID and sends event about it.
func (h *Hanko) deleteSession(sessionID, event string) bool {
	id, err := parseUUID(sessionID)
	if err != nil {
		return false
	}
	h.mu.Lock()
	row, ok := h.sessions[id]
	if ok {
		delete(h.sessions, id)
	}
	h.mu.Unlock()
	if ok {
		h.sessionEvent(event, id, *row)
	}
	return ok
}

// DeleteUser deletes the user userID with all its sessions, as Hanko's
// admin DELETE /users/{id} does: the sessions go by a database cascade,
// without session events, and one user.delete is sent. It returns how
// many sessions it deleted.
func (h *Hanko) DeleteUser(userID string) (int, error) {
	uid, err := parseUUID(userID)
	if err != nil {
		return 0, fmt.Errorf("hankotest: user id %q is not a UUID", userID)
	}
	h.mu.Lock()
	n := 0
	created := time.Time{}
	for sid, row := range h.sessions {
		if row.userID == uid {
			if created.IsZero() || row.createdAt.Before(created) {
				created = row.createdAt
			}
			delete(h.sessions, sid)
			n++
		}
	}
	h.mu.Unlock()
	if created.IsZero() {
		created = h.now()
	}
	created = created.UTC().Round(time.Microsecond)
	h.sendWebhook(EventUserDelete, userData{ID: uid, CreatedAt: created, UpdatedAt: created})
	return n, nil
}

// afterMint enforces the session limit for a new session of userID and
// sends session.create.admin.
func (h *Hanko) afterMint(sid string, row sessionRow) {
	if limit := h.opts.sessionLimit; limit > 0 {
		for {
			h.mu.Lock()
			var oldest string
			var oldestRow *sessionRow
			count := 0
			for id, r := range h.sessions {
				if r.userID != row.userID {
					continue
				}
				count++
				if id != sid && (oldestRow == nil || r.createdAt.Before(oldestRow.createdAt)) {
					oldest, oldestRow = id, r
				}
			}
			if count <= limit || oldestRow == nil {
				h.mu.Unlock()
				break
			}
			delete(h.sessions, oldest)
			h.mu.Unlock()
			h.sessionEvent(EventSessionDeleteLimit, oldest, *oldestRow)
		}
	}
	h.sessionEvent(EventSessionCreateAdmin, sid, row)
}

// webhookURL checks a callback URL (for WithWebhook's users who build it).
func webhookURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("hankotest: webhook callback %q is not an http(s) URL", s)
	}
	return nil
}
