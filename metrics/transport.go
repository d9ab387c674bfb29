package metrics

import (
	"io"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// InstrumentTransport wraps rt (http.DefaultTransport when nil) so that
// hankoauth_hanko_requests_in_flight counts the requests to Hanko under
// way, JWKS fetches and session validations alike, from the moment a
// request is sent until its response body is closed. The validator has
// no hook for the start of a request, so the binary gives it an
// instrumented client, built with the validator's own settings:
//
//	cfg.HTTPClient = hankoauth.NewHTTPClient(cfg.RequestTimeout, m.InstrumentTransport)
//
// Use the returned transport only for calls to Hanko.
func (m *Metrics) InstrumentTransport(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &inFlightTransport{next: rt, gauge: m.hankoInFlight}
}

type inFlightTransport struct {
	next  http.RoundTripper
	gauge prometheus.Gauge
}

func (t *inFlightTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.gauge.Inc()
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp == nil || resp.Body == nil {
		t.gauge.Dec()
		return resp, err
	}
	resp.Body = &inFlightBody{ReadCloser: resp.Body, gauge: t.gauge}
	return resp, nil
}

// inFlightBody ends the request's count when the body is closed.
type inFlightBody struct {
	io.ReadCloser
	gauge prometheus.Gauge
	done  atomic.Bool
}

func (b *inFlightBody) Close() error {
	if b.done.CompareAndSwap(false, true) {
		b.gauge.Dec()
	}
	return b.ReadCloser.Close()
}
