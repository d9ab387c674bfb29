package interceptor

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"

	"github.com/hankoauth/hankoauth"
)

// watchedStream is the stream of a watched session: go-grpc-middleware's
// WrappedServerStream, whose SendMsg and RecvMsg fail with the session's
// status once it has ended, so that a handler that ignores its context
// still stops.
type watchedStream struct {
	*middleware.WrappedServerStream
}

func (s watchedStream) SendMsg(m any) error {
	if err := sessionEndStatus(s.WrappedContext); err != nil {
		return err
	}
	return s.WrappedServerStream.SendMsg(m)
}

func (s watchedStream) RecvMsg(m any) error {
	if err := sessionEndStatus(s.WrappedContext); err != nil {
		return err
	}
	return s.WrappedServerStream.RecvMsg(m)
}

// sessionEnded is the cancellation cause of a stream whose session ended;
// err is hankoauth.ErrExpired or the error of a failed re-check.
type sessionEnded struct{ err error }

func (e *sessionEnded) Error() string { return "session ended: " + e.err.Error() }
func (e *sessionEnded) Unwrap() error { return e.err }

// sessionEndStatus returns the status error for a context cancelled
// because its session ended, or nil.
func sessionEndStatus(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	var se *sessionEnded
	if errors.As(context.Cause(ctx), &se) {
		return StatusFromError(se.err).Err()
	}
	return nil
}

// watchControl is shared by a stream's watcher and its handler, which may
// take the stream's end over (OwnStreamEnd).
type watchControl struct {
	mu       sync.Mutex
	ended    bool          // the watcher ended the session
	owned    bool          // the handler took the end over
	released chan struct{} // closed when owned
}

type watchControlKey struct{}

// OwnStreamEnd tells the session watcher of the stream whose context is
// ctx (the Stream interceptor's, see WithStreamExpiry) that the handler
// watches the session itself and ends the stream when the session ends,
// as hankoauth.v1.SessionService/WatchSession does to send a final
// message first. The watcher stops, and neither cancels the stream's
// context nor fails its SendMsg and RecvMsg.
//
// It reports whether the handler owns the stream's end now: true, or
// when no watcher runs for ctx (a public method, WithStreamExpiry(false),
// another authenticator); false when the watcher had already ended the
// session, in which case ctx is done and the handler should return.
func OwnStreamEnd(ctx context.Context) bool {
	c, ok := ctx.Value(watchControlKey{}).(*watchControl)
	if !ok {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return false
	}
	if !c.owned {
		c.owned = true
		close(c.released)
	}
	return true
}

// end marks the session ended, unless the handler owns the end; it
// reports whether the watcher may end the stream.
func (c *watchControl) end() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.owned {
		return false
	}
	c.ended = true
	return true
}

// watchStream runs handler with a context that is cancelled when the
// session s ends: at its expiry, or when a periodic re-check of token
// fails. It returns the handler's error, replaced by the session's status
// when the session ended and the handler failed. The watcher has stopped
// when watchStream returns.
func (a *Interceptor) watchStream(ctx context.Context, s *hankoauth.Session, token, method string, handler func(context.Context) error) error {
	ctl := &watchControl{released: make(chan struct{})}
	ctx, cancel := context.WithCancelCause(context.WithValue(ctx, watchControlKey{}, ctl))
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		a.watch(ctx, ctl, cancel, s, token, method)
	}()
	err := handler(ctx)
	// Stop the watcher, also out of a re-check waiting for Hanko. A cause
	// the watcher set first stays.
	cancel(nil)
	<-stopped
	if err != nil {
		if serr := sessionEndStatus(ctx); serr != nil {
			return serr
		}
	}
	return err
}

// watch cancels ctx with a *sessionEnded cause when the session ends, and
// returns then, when ctx is done or when the handler takes the end over.
func (a *Interceptor) watch(ctx context.Context, ctl *watchControl, cancel context.CancelCauseFunc, s *hankoauth.Session, token, method string) {
	expiry := time.NewTimer(untilEnd(s, a.v.Now()))
	defer expiry.Stop()
	var recheck <-chan time.Time
	if a.opts.recheck > 0 && a.v.Mode() != hankoauth.ModeLocal {
		t := time.NewTicker(a.opts.recheck)
		defer t.Stop()
		recheck = t.C
	}
	end := func(err error) {
		if !ctl.end() {
			return // the handler owns the end
		}
		cause := &sessionEnded{err: err}
		cancel(cause)
		if context.Cause(ctx) != error(cause) {
			return // the handler had returned already
		}
		r := hankoauth.ReasonOf(err)
		a.decide(ctx, method, r, false)
		a.log(ctx, method, StatusFromError(err), r, err)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ctl.released:
			return
		case <-expiry.C:
			end(hankoauth.ErrExpired)
			return
		case <-recheck:
			fresh, err := a.v.Validate(ctx, token)
			switch {
			case ctx.Err() != nil:
				return
			case err == nil:
				// Hanko may have moved the idle expiry.
				expiry.Reset(untilEnd(fresh, a.v.Now()))
			case errors.Is(err, hankoauth.ErrNoToken), errors.Is(err, hankoauth.ErrInvalidToken):
				end(err)
				return
			default:
				// Hanko is unreachable: that says nothing about the
				// session. Keep the stream and try again next time.
				a.opts.logger.LogAttrs(ctx, slog.LevelWarn, "hankoauth: stream session re-check failed",
					slog.String("method", method),
					slog.String("reason", string(hankoauth.ReasonOf(err))),
					slog.String("error", err.Error()))
			}
		}
	}
}

// untilEnd is how long s lasts from now on (hankoauth.Session.EndsAt); a
// session that does not know its end lasts practically forever.
func untilEnd(s *hankoauth.Session, now time.Time) time.Duration {
	if end := s.EndsAt(); !end.IsZero() {
		return end.Sub(now)
	}
	return 100 * 365 * 24 * time.Hour
}
