package main

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// limitLog returns a logger that writes through log at most rate lines per
// second (bursts of up to rate lines), for the per-request lines of the
// edges (one per denial): a client sending bad tokens must not fill the
// disk. Dropped lines are counted and the count is logged, as a line
// "log lines suppressed" with suppressed=N, before the next line that gets
// through. Decisions are counted in the metrics whether logged or not.
// rate <= 0 returns log itself.
func limitLog(log *slog.Logger, rate float64) *slog.Logger {
	if rate <= 0 {
		return log
	}
	return slog.New(&limitedHandler{h: log.Handler(), l: &logLimiter{rate: rate, tokens: rate}})
}

// logLimiter is a token bucket shared by a handler and its derivatives.
type logLimiter struct {
	mu         sync.Mutex
	rate       float64 // tokens per second, and the bucket's size
	tokens     float64
	last       time.Time
	suppressed int64
}

// take reports whether a line at t may be written and, if so, how many
// lines were dropped since the last one written.
func (l *logLimiter) take(t time.Time) (ok bool, dropped int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && t.After(l.last) {
		l.tokens = min(l.rate, l.tokens+t.Sub(l.last).Seconds()*l.rate)
	}
	if t.After(l.last) {
		l.last = t
	}
	if l.tokens < 1 {
		l.suppressed++
		return false, 0
	}
	l.tokens--
	dropped, l.suppressed = l.suppressed, 0
	return true, dropped
}

type limitedHandler struct {
	h slog.Handler
	l *logLimiter
}

func (h *limitedHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.h.Enabled(ctx, level)
}

func (h *limitedHandler) Handle(ctx context.Context, r slog.Record) error {
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	ok, dropped := h.l.take(t)
	if !ok {
		return nil
	}
	if dropped > 0 {
		s := slog.NewRecord(t, slog.LevelWarn, "log lines suppressed", 0)
		s.AddAttrs(slog.Int64("suppressed", dropped), slog.Float64("max_lines_per_second", h.l.rate))
		if err := h.h.Handle(ctx, s); err != nil {
			return err
		}
	}
	return h.h.Handle(ctx, r)
}

func (h *limitedHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &limitedHandler{h: h.h.WithAttrs(as), l: h.l}
}

func (h *limitedHandler) WithGroup(name string) slog.Handler {
	return &limitedHandler{h: h.h.WithGroup(name), l: h.l}
}
