package tracing

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

func TestLogHandlerAddsTraceID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewTextHandler(&buf, nil))).With("edge", "test")
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	log.InfoContext(ctx, "denied")
	log.InfoContext(context.Background(), "plain")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "trace_id=0af7651916cd43dd8448eb211c80319c") || !strings.Contains(lines[0], "edge=test") {
		t.Fatalf("with span: %q", lines)
	}
	if strings.Contains(lines[1], "trace_id") {
		t.Fatalf("without span: %q", lines[1])
	}
}

func TestHTTPHandlerJoinsTheCallersTrace(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{}) // what Setup installs when enabled
	defer otel.SetTextMapPropagator(prev)
	var got string
	h := HTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = TraceID(r.Context()) }), "authz")
	r := httptest.NewRequest(http.MethodGet, "/authz/x", nil)
	r.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got != "0af7651916cd43dd8448eb211c80319c" {
		t.Fatalf("trace id %q, want the caller's", got)
	}
}
