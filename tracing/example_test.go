package tracing_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"google.golang.org/grpc"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
	"github.com/hankoauth/hankoauth/tracing"
)

// Set tracing up from the environment (OTEL_EXPORTER_OTLP_ENDPOINT), trace
// the gRPC server and the calls to Hanko, and put trace ids in the logs.
func Example() {
	os.Unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT") // for the example's output
	ctx := context.Background()
	shutdown, enabled, err := tracing.Setup(ctx, "my-service", "v1.0.0")
	if err != nil {
		panic(err)
	}
	defer shutdown(ctx)
	fmt.Println("tracing enabled:", enabled)

	hanko := hankotest.NewServer() // your Hanko's URL in production
	defer hanko.Close()
	log := slog.New(tracing.LogHandler(slog.NewJSONHandler(os.Stderr, nil)))
	v, err := hankoauth.New(hankoauth.Config{
		APIURL:     hanko.URL,
		HTTPClient: hankoauth.NewHTTPClient(0, tracing.Transport),
		Logger:     log,
	})
	if err != nil {
		panic(err)
	}
	defer v.Close()
	srv := grpc.NewServer(tracing.ServerOption())
	defer srv.Stop()
	// Output: tracing enabled: false
}
