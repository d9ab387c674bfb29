package sessionservice

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hankoauth/hankoauth"
	hankoauthv1 "github.com/hankoauth/hankoauth/gen/hankoauth/v1"
	"github.com/hankoauth/hankoauth/interceptor"
)

// WatchSession streams the caller's session state: one ACTIVE update at
// once, then one per interval after validating the caller's token again,
// and a final update with a terminal state when the session expires or
// stops validating, after which the stream ends with Unauthenticated. An
// unreachable Hanko ends it with Unavailable, without a final update.
func (s *Service) WatchSession(req *hankoauthv1.WatchSessionRequest, stream hankoauthv1.SessionService_WatchSessionServer) error {
	ctx := stream.Context()
	sess, ok := hankoauth.FromContext(ctx)
	if !ok {
		return interceptor.StatusFromError(hankoauth.ErrNoToken).Err()
	}
	// This handler ends the stream itself, after the final update: the
	// interceptor's session watcher must not end it first.
	if !interceptor.OwnStreamEnd(ctx) {
		<-ctx.Done()
		return contextStatus(ctx)
	}
	interval, err := s.watchInterval(req.GetInterval())
	if err != nil {
		return err
	}
	// The token the interceptors validated; without them (a custom
	// authenticator), read it from the metadata the way they would.
	token, ok := interceptor.TokenFromContext(ctx)
	if !ok {
		md, _ := metadata.FromIncomingContext(ctx)
		token, err = s.extractor.Extract(md.Get)
	}
	switch {
	case errors.Is(err, hankoauth.ErrNoToken):
		// The session was not put there from this call's token (a custom
		// authenticator): only its expiry can be watched.
		token = ""
	case err != nil:
		return interceptor.StatusFromError(err).Err()
	}

	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	expiry := time.NewTimer(time.Hour) // armed below, for a session with an end
	expiry.Stop()
	defer expiry.Stop()
	validate := false // the first update reports what the interceptor just validated
	for {
		now := s.v.Now()
		var ended error
		if d, ok := untilEnd(sess, now); ok && d <= 0 {
			ended = hankoauth.ErrExpired
		} else if validate && token != "" {
			fresh, err := s.v.Validate(ctx, token)
			switch {
			case ctx.Err() != nil:
				return contextStatus(ctx)
			case err == nil:
				sess = fresh
			case errors.Is(err, hankoauth.ErrNoToken), errors.Is(err, hankoauth.ErrInvalidToken):
				ended = err
			default:
				s.log.LogAttrs(ctx, slog.LevelWarn, "hankoauth: WatchSession could not re-check the session",
					slog.String("session_id", sess.SessionID),
					slog.String("reason", string(hankoauth.ReasonOf(err))),
					slog.String("error", err.Error()))
				return interceptor.StatusFromError(err).Err()
			}
		}
		if ended != nil {
			return s.end(stream, sess, ended, now)
		}
		if err := stream.Send(update(sess, hankoauthv1.SessionState_SESSION_STATE_ACTIVE, now)); err != nil {
			if ctx.Err() != nil {
				return contextStatus(ctx)
			}
			return err
		}
		// Wait for the next tick, or for the session's end.
		if d, ok := untilEnd(sess, now); ok {
			expiry.Reset(d)
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return contextStatus(ctx)
			case <-ticker.C:
				validate = true
				break wait
			case <-expiry.C:
				if d, _ := untilEnd(sess, s.v.Now()); d > 0 {
					expiry.Reset(d)
					continue
				}
				validate = false
				break wait
			}
		}
	}
}

// end sends the final update for a session that ended with err and
// returns the stream's status.
func (s *Service) end(stream hankoauthv1.SessionService_WatchSessionServer, sess *hankoauth.Session, err error, now time.Time) error {
	ctx := stream.Context()
	st := terminalState(err)
	s.log.LogAttrs(ctx, slog.LevelInfo, "hankoauth: watched session ended",
		slog.String("session_id", sess.SessionID),
		slog.String("state", st.String()),
		slog.String("reason", string(hankoauth.ReasonOf(err))))
	// A failed send (the client went away) changes nothing: the stream
	// ends with the session's status either way.
	_ = stream.Send(update(sess, st, now))
	return interceptor.StatusFromError(err).Err()
}

// terminalState is the final state of a session that stopped validating
// with err, an ErrNoToken or ErrInvalidToken.
func terminalState(err error) hankoauthv1.SessionState {
	switch {
	case errors.Is(err, hankoauth.ErrExpired):
		return hankoauthv1.SessionState_SESSION_STATE_EXPIRED
	case errors.Is(err, hankoauth.ErrRevoked):
		return hankoauthv1.SessionState_SESSION_STATE_REVOKED
	}
	return hankoauthv1.SessionState_SESSION_STATE_REJECTED
}

func update(sess *hankoauth.Session, st hankoauthv1.SessionState, now time.Time) *hankoauthv1.WatchSessionResponse {
	return &hankoauthv1.WatchSessionResponse{Session: ToProto(sess), State: st, ServerTime: timestamppb.New(now)}
}

// contextStatus is the status of a stream whose context ended: the
// session's, when the interceptor's watcher ended it before WatchSession
// took the end over (its cause is the validation error), else Canceled or
// DeadlineExceeded.
func contextStatus(ctx context.Context) error {
	if cause := context.Cause(ctx); errors.Is(cause, hankoauth.ErrInvalidToken) {
		return interceptor.StatusFromError(cause).Err()
	}
	return status.FromContextError(ctx.Err()).Err()
}

// watchInterval is the interval a request asks for, defaulted and clamped.
func (s *Service) watchInterval(d *durationpb.Duration) (time.Duration, error) {
	if d == nil {
		return s.interval, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, status.Error(codes.InvalidArgument, "interval is not a valid duration")
	}
	switch iv := d.AsDuration(); {
	case iv < 0:
		return 0, status.Error(codes.InvalidArgument, "interval must not be negative")
	case iv == 0:
		return s.interval, nil
	default:
		return min(max(iv, s.minIvl), s.maxIvl), nil
	}
}

// untilEnd is how long sess lasts from now on (hankoauth.Session.EndsAt),
// and false for a session put into the context without an end, which
// never ends by time.
func untilEnd(sess *hankoauth.Session, now time.Time) (time.Duration, bool) {
	end := sess.EndsAt()
	return end.Sub(now), !end.IsZero()
}
