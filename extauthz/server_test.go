package extauthz

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
)

// mustServer is NewServer, for valid options.
func mustServer(v *hankoauth.Validator, opts ...Option) *Server {
	s, err := NewServer(v, opts...)
	if err != nil {
		panic(err)
	}
	return s
}

func TestNewServerRejectsBadOptions(t *testing.T) {
	v, err := hankoauth.New(hankoauth.Config{APIURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	tests := map[string][]Option{
		"bad public path":         {WithPublicPaths("/public/../admin")},
		"relative public path":    {WithPublicPaths("public/")},
		"header with space":       {WithIdentityHeaders("x user", "", "")},
		"reserved header":         {WithClaimHeader("tenant", "Authorization")},
		"duplicate header":        {WithClaimHeader("uid", "X-Hanko-User-Id")},
		"claim without name":      {WithClaimHeader("", "x-tenant")},
		"identity headers clash":  {WithIdentityHeaders("x-id", "x-id", "")},
		"cookie as identity":      {WithIdentityHeaders("", "", "cookie")},
		"pseudo header as claim":  {WithClaimHeader("p", ":path")},
		"empty claim header name": {WithClaimHeader("p", "")},
		"nil requirement":         {WithRequirement(nil)},
		"HTTP method with space":  {WithPublicHTTPMethods("GET ")},
		"empty HTTP method":       {WithPublicHTTPMethods("")},
		"gRPC method as verb":     {WithPublicHTTPMethods("/pkg.Service/Method")},
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			if s, err := NewServer(v, opts...); err == nil {
				t.Errorf("NewServer = %v, nil; want an error", s)
			}
		})
	}
	if _, err := NewServer(nil); err == nil {
		t.Error("NewServer(nil) did not fail")
	}
	if _, err := NewServer(v, WithPublicHTTPMethods("OPTIONS"), WithPublicPaths("/public/"), WithClaimHeader("tenant", "x-tenant"), nil); err != nil {
		t.Errorf("NewServer with valid options: %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "1", -time.Second: "1", time.Millisecond: "1", time.Second: "1", 1001 * time.Millisecond: "2", time.Minute: "60"} {
		if got := retryAfter(d); got != want {
			t.Errorf("retryAfter(%v) = %q, want %q", d, got, want)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogNeverHasToken checks that denials are logged with their reason
// and detail, and never with the token or the query.
func TestLogNeverHasToken(t *testing.T) {
	f := newFixture(t)
	expired := f.hanko.MustMint(t, hankotest.Session{UserID: aliceID, Lifetime: -time.Hour})
	forged := expired.Token[:len(expired.Token)-4] + "AAAA"
	var buf syncBuffer
	s := mustServer(f.v, WithLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	for _, tok := range []string{expired.Token, forged, "not-a-jwt", strings.Repeat("x", 20000)} {
		req := placeholders{"token": tok}.load(t, "bearer_headers_map")
		if _, err := s.Check(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	out := buf.String()
	for _, secret := range []string{expired.Token, forged, "not-a-jwt", "xxxxxxxxxx", "page=2"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %.20q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"reason=SESSION_EXPIRED", "reason=TOKEN_MALFORMED", "path=/api/orders", "error="} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
