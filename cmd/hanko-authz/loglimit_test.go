package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLimitLog(t *testing.T) {
	var buf bytes.Buffer
	log := limitLog(slog.New(slog.NewTextHandler(&buf, nil)), 5)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	line := func(at time.Duration, msg string) {
		r := slog.NewRecord(t0.Add(at), slog.LevelInfo, msg, 0)
		if err := log.Handler().Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 { // a burst: 5 get through, 95 are counted
		line(0, "denied")
	}
	if n := strings.Count(buf.String(), "msg=denied"); n != 5 {
		t.Fatalf("burst: %d lines written, want 5:\n%s", n, buf.String())
	}
	if strings.Contains(buf.String(), "suppressed") {
		t.Fatalf("suppressed count written before the next allowed line:\n%s", buf.String())
	}
	buf.Reset()
	line(time.Second, "denied") // the bucket has refilled
	want := "level=WARN msg=\"log lines suppressed\" suppressed=95 max_lines_per_second=5\n"
	if !strings.Contains(buf.String(), want) {
		t.Fatalf("after the burst got:\n%s\nwant a line with %q", buf.String(), want)
	}
	if n := strings.Count(buf.String(), "msg=denied"); n != 1 {
		t.Fatalf("after the burst: %d denial lines, want 1", n)
	}
	buf.Reset()
	line(2*time.Second, "denied")
	if strings.Contains(buf.String(), "suppressed") {
		t.Fatalf("count repeated:\n%s", buf.String())
	}
}

func TestLimitLogOff(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	if limitLog(log, 0) != log {
		t.Fatal("rate 0 must return the logger itself")
	}
}

func TestLimitLogSharedByDerivedLoggers(t *testing.T) {
	var buf bytes.Buffer
	log := limitLog(slog.New(slog.NewTextHandler(&buf, nil)), 2)
	a, b := log.With("edge", "a"), log.WithGroup("g")
	for range 5 {
		a.Info("x")
		b.Info("y")
	}
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Fatalf("%d lines through two derived loggers, want 2 (one bucket):\n%s", n, buf.String())
	}
}
