package extauthz

import (
	"context"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"

	"github.com/hankoauth/hankoauth/hankotest"
)

// noop is an ext_authz server that allows everything: the floor that
// BenchmarkCheck compares with.
type noop struct{}

func (noop) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}},
	}, nil
}

func BenchmarkCheck(b *testing.B) {
	f := newFixture(b)
	m := f.hanko.MustMint(b, hankotest.Session{UserID: aliceID, Email: "alice@example.com", AMR: []string{"passkey"}})
	req := placeholders{"token": m.Token}.load(b, "bearer_headers_map")
	ctx := context.Background()
	run := func(b *testing.B, s authv3.AuthorizationServer) {
		if _, err := s.Check(ctx, req); err != nil { // warms the cache
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			resp, err := s.Check(ctx, req)
			if err != nil || resp.GetStatus().GetCode() != 0 {
				b.Fatalf("Check = %v, %v", resp, err)
			}
		}
	}
	b.Run("noop", func(b *testing.B) { run(b, noop{}) })
	b.Run("cached", func(b *testing.B) { run(b, mustServer(f.v, WithPublicPaths("/public/"))) })
}
