package tracing

import (
	"context"
	"log/slog"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// LogHandler wraps h so that every record logged with a context that
// carries a span gets a "trace_id" attribute: a denial's log line then
// leads to its trace. Records without a span are passed on unchanged.
func LogHandler(h slog.Handler) slog.Handler { return traceLogHandler{h} }

type traceLogHandler struct{ slog.Handler }

func (t traceLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := TraceID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", id))
	}
	return t.Handler.Handle(ctx, r)
}

func (t traceLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceLogHandler{t.Handler.WithAttrs(as)}
}

func (t traceLogHandler) WithGroup(name string) slog.Handler {
	return traceLogHandler{t.Handler.WithGroup(name)}
}

// HTTPHandler wraps h in an otelhttp server handler named operation, so
// that HTTP ext_authz requests join the trace of the proxy that sent them
// (W3C traceparent). It records methods, routes and statuses, never
// headers or bodies.
func HTTPHandler(h http.Handler, operation string) http.Handler {
	return otelhttp.NewHandler(h, operation)
}
