package interceptor

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	"github.com/hankoauth/hankoauth"
)

// serverStream is a grpc.ServerStream whose Context carries the session,
// like go-grpc-middleware's WrappedServerStream. When the session is
// watched, SendMsg and RecvMsg fail with the session's status once it has
// ended, so that a handler that ignores its context still stops.
type serverStream struct {
	grpc.ServerStream
	ctx     context.Context
	watched bool
}

func (s *serverStream) Context() context.Context { return s.ctx }

func (s *serverStream) SendMsg(m any) error {
	if err := s.ended(); err != nil {
		return err
	}
	return s.ServerStream.SendMsg(m)
}

func (s *serverStream) RecvMsg(m any) error {
	if err := s.ended(); err != nil {
		return err
	}
	return s.ServerStream.RecvMsg(m)
}

// ended returns the status error of a session that ended, nil while it
// lasts.
func (s *serverStream) ended() error {
	if !s.watched || s.ctx.Err() == nil {
		return nil
	}
	return sessionEndStatus(s.ctx)
}

// sessionEnded is the cancellation cause of a stream whose session ended;
// err is hankoauth.ErrExpired or the error of a failed re-check.
type sessionEnded struct{ err error }

func (e *sessionEnded) Error() string { return "session ended: " + e.err.Error() }
func (e *sessionEnded) Unwrap() error { return e.err }

// sessionEndStatus returns the status error for a context cancelled
// because its session ended, or nil.
func sessionEndStatus(ctx context.Context) error {
	var se *sessionEnded
	if errors.As(context.Cause(ctx), &se) {
		return StatusFromError(se.err).Err()
	}
	return nil
}

// watchStream runs handler with a context that is cancelled when the
// session s ends: at its expiry, or when a periodic re-check of token
// fails. It returns the handler's error, replaced by the session's status
// when the session ended and the handler failed. The watcher has stopped
// when watchStream returns.
func (a *authenticator) watchStream(ctx context.Context, s *hankoauth.Session, token, method string, handler func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		a.watch(ctx, cancel, s, token, method)
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
// returns then or when ctx is done.
func (a *authenticator) watch(ctx context.Context, cancel context.CancelCauseFunc, s *hankoauth.Session, token, method string) {
	expiry := time.NewTimer(sessionEnd(s).Sub(a.v.Now()))
	defer expiry.Stop()
	var recheck <-chan time.Time
	if a.opts.recheck > 0 && a.v.Mode() != hankoauth.ModeLocal {
		t := time.NewTicker(a.opts.recheck)
		defer t.Stop()
		recheck = t.C
	}
	end := func(err error) {
		cause := &sessionEnded{err: err}
		cancel(cause)
		if context.Cause(ctx) != error(cause) {
			return // the handler had returned already
		}
		a.decide(ctx, method, err, false)
		a.log(ctx, method, StatusFromError(err), err)
	}
	for {
		select {
		case <-ctx.Done():
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
				expiry.Reset(sessionEnd(fresh).Sub(a.v.Now()))
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

// sessionEnd is when s ends (hankoauth.Session.EndsAt); a session that
// does not know its end ends in the far future.
func sessionEnd(s *hankoauth.Session) time.Time {
	if end := s.EndsAt(); !end.IsZero() {
		return end
	}
	return time.Now().Add(100 * 365 * 24 * time.Hour)
}
