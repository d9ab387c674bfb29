package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
	"github.com/hankoauth/hankoauth/metrics"
)

// Wire the metrics into a validator and serve them: hooks before New, the
// validator's state after it, and the handler on /metrics.
func Example() {
	hanko := hankotest.NewServer()
	defer hanko.Close()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.WithVersion("v1.0.0"))
	if err != nil {
		panic(err)
	}
	v, err := hankoauth.New(hankoauth.Config{
		APIURL:     hanko.URL,
		Hooks:      m.Hooks(),
		HTTPClient: hankoauth.NewHTTPClient(0, m.InstrumentTransport),
	})
	if err != nil {
		panic(err)
	}
	defer v.Close()
	m.ObserveValidator(v)

	minted, _ := hanko.Mint(hankotest.Session{})
	for range 3 {
		_, _ = v.Validate(context.Background(), minted.Token)
	}

	srv := httptest.NewServer(metrics.Handler(reg))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(body), "\n") {
		if strings.HasPrefix(line, "hankoauth_cache_hits_total") || strings.HasPrefix(line, "hankoauth_hanko_requests_total{outcome=\"valid\"}") {
			fmt.Println(line)
		}
	}
	// Output:
	// hankoauth_cache_hits_total 2
	// hankoauth_hanko_requests_total{outcome="valid"} 1
}
