package extauthz

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc/codes"

	"github.com/hankoauth/hankoauth"
)

// TestCheckHeaderBounds sends CheckRequests at and beyond the header
// bounds: beyond them the answer is a 431 with hankoauth.ReasonHeadersTooLarge,
// given before any header is looked at (the header_map attack of 60 000
// entries used to cost seconds of CPU and end in a 401).
func TestCheckHeaderBounds(t *testing.T) {
	f := newFixture(t)
	var decisions []hankoauth.Decision
	s := mustServer(f.v, WithDecisionHook(func(_ context.Context, d hankoauth.Decision) { decisions = append(decisions, d) }))
	many := func(n, size int) []string {
		pairs := make([]string, 0, 2*n)
		for i := range n {
			v := fmt.Sprintf("v%d", i)
			v += strings.Repeat("x", max(size-len(v), 0))
			pairs = append(pairs, "x-junk", v)
		}
		return pairs
	}
	tests := []struct {
		name   string
		req    *authv3.CheckRequest
		tooBig bool
	}{
		{name: "at the entry bound", req: checkRequest(nil, many(MaxCheckHeaders, 1)...)},
		{name: "one entry too many", req: checkRequest(nil, many(MaxCheckHeaders+1, 1)...), tooBig: true},
		{name: "60000 entries", req: checkRequest(nil, many(60000, 20)...), tooBig: true},
		{name: "bytes at the bound", req: checkRequest(nil, many(1, MaxCheckHeaderBytes-len("x-junk"))...)},
		{name: "one byte too many", req: checkRequest(nil, many(1, MaxCheckHeaderBytes-len("x-junk")+1)...), tooBig: true},
		{name: "map entries count", req: checkRequest(mapOf(MaxCheckHeaders + 1)), tooBig: true},
		{name: "map and header_map together", req: checkRequest(mapOf(MaxCheckHeaders/2+1), many(MaxCheckHeaders/2, 1)...), tooBig: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			decisions = nil
			resp, err := s.Check(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			d := resp.GetDeniedResponse()
			if !tt.tooBig {
				if d.GetStatus().GetCode() != typev3.StatusCode_Unauthorized {
					t.Errorf("status %v, want 401 (no token)", d.GetStatus().GetCode())
				}
				return
			}
			if got := d.GetStatus().GetCode(); got != typev3.StatusCode_RequestHeaderFieldsTooLarge {
				t.Errorf("status %v, want 431", got)
			}
			if got := codes.Code(resp.GetStatus().GetCode()); got != codes.InvalidArgument {
				t.Errorf("code %v, want InvalidArgument", got)
			}
			if got := resp.GetDynamicMetadata().GetFields()["reason"].GetStringValue(); got != string(hankoauth.ReasonHeadersTooLarge) {
				t.Errorf("metadata reason %q", got)
			}
			if len(decisions) != 1 || decisions[0].Reason != hankoauth.ReasonHeadersTooLarge || decisions[0].Result != "deny" {
				t.Errorf("decisions %+v", decisions)
			}
		})
	}
}

func mapOf(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("x-h%d", i)] = "v"
	}
	return m
}

// TestCheckHeadersLookup checks the index: values of one name in order,
// each once, names compared lower-case, raw_value used when value is
// empty, a value in both the map and header_map returned once.
func TestCheckHeadersLookup(t *testing.T) {
	h := &authv3.AttributeContext_HttpRequest{
		Headers: map[string]string{"cookie": "a=1"},
		HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
			{Key: "Cookie", RawValue: []byte("b=2")},
			{Key: "cookie", Value: "a=1"},
			{Key: "COOKIE", Value: "b=2"},
			{Key: "cookie", Value: "c=3"},
			{Key: "authorization", RawValue: []byte("Bearer x")},
			{Key: "authorization", RawValue: []byte("Bearer x")},
		}},
	}
	c, err := newCheckHeaders(h)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]string{
		"cookie":        {"a=1", "b=2", "c=3"},
		"authorization": {"Bearer x"},
		"content-type":  nil,
	} {
		if got := c.lookup(name); !slices.Equal(got, want) {
			t.Errorf("lookup(%q) = %q, want %q", name, got, want)
		}
	}
	// Many values of one name, each twice: all kept once, in order.
	pairs := make([]string, 0, 2*MaxCheckHeaders)
	for i := range MaxCheckHeaders {
		pairs = append(pairs, "cookie", fmt.Sprintf("k%d=v", i%(MaxCheckHeaders/2)))
	}
	c, err = newCheckHeaders(checkRequest(nil, pairs...).GetAttributes().GetRequest().GetHttp())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.lookup("cookie"); len(got) != MaxCheckHeaders/2 || got[0] != "k0=v" || got[len(got)-1] != fmt.Sprintf("k%d=v", MaxCheckHeaders/2-1) {
		t.Errorf("lookup(cookie) has %d values", len(got))
	}
}

// BenchmarkCheckHeaderMap looks a token up in header_maps of growing size:
// the cost per entry stays flat (linear work).
func BenchmarkCheckHeaderMap(b *testing.B) {
	for _, n := range []int{16, 256, MaxCheckHeaders} {
		pairs := make([]string, 0, 2*n)
		for i := range n {
			pairs = append(pairs, "cookie", fmt.Sprintf("k%d=v", i))
		}
		h := checkRequest(nil, pairs...).GetAttributes().GetRequest().GetHttp()
		x := hankoauth.Extractor{}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				c, err := newCheckHeaders(h)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = x.Extract(c.lookup)
			}
		})
	}
}
