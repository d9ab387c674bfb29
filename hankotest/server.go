package hankotest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Server is a fake Hanko listening on a loopback address.
type Server struct {
	*Hanko
	// URL is the base URL, http://127.0.0.1:<port>, with no trailing slash:
	// the Hanko API URL to configure a validator with.
	URL string

	ts *httptest.Server
}

// NewServer starts a fake Hanko on 127.0.0.1, like [httptest.NewServer].
// It panics if the options are invalid or no key can be generated, so it
// is meant for tests; use [New] and [Hanko.Handler] to handle errors.
// Call [Server.Close] when done.
func NewServer(opts ...Option) *Server {
	h, err := New(opts...)
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(h.Handler())
	return &Server{Hanko: h, URL: ts.URL, ts: ts}
}

// NewTB starts a fake Hanko on 127.0.0.1 for the test tb and closes it
// when the test ends (tb.Cleanup). Invalid options fail the test.
func NewTB(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	h, err := New(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(h.Handler())
	s := &Server{Hanko: h, URL: ts.URL, ts: ts}
	tb.Cleanup(s.Close)
	return s
}

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close cuts injected delays short, shuts the server down and waits for
// outstanding requests.
func (s *Server) Close() {
	s.stop()
	s.ts.Close()
}
