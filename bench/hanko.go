package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hankoauth/hankoauth/hankotest"
)

// tokenSet is what the fake Hanko hands to the harness: its URL, its
// JWKS, and the tokens of the request stream.
type tokenSet struct {
	URL     string          `json:"url"`
	JWKS    json.RawMessage `json:"jwks"`
	Valid   []string        `json:"valid"`   // live sessions, realistic claims
	Forged  []string        `json:"forged"`  // valid header and kid, bad signature
	Expired []string        `json:"expired"` // signed, exp in the past
	Flood   []string        `json:"flood"`   // distinct forged tokens, for the flood run
}

// cmdHanko runs a fake Hanko (hankotest) signing with RSA-4096 like real
// Hanko, mints the sessions of the request stream, writes dir/hanko.json
// and serves until stopped. GET /_bench/calls returns how many requests
// reached each endpoint.
func cmdHanko(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hanko", flag.ContinueOnError)
	dir := fs.String("dir", "", "where to write hanko.json")
	sessions := fs.Int("sessions", 300, "live sessions to mint")
	bits := fs.Int("bits", 4096, "RSA key size (Hanko uses 4096)")
	flood := fs.Int("flood", 4000, "distinct forged tokens for the flood run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h, err := hankotest.New(hankotest.WithKeyBits(*bits), hankotest.WithSessionLifetime(12*time.Hour))
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ts := tokenSet{URL: "http://" + lis.Addr().String(), JWKS: h.JWKS()}
	for i := range *sessions {
		m, err := h.Mint(realisticSession(i, time.Duration(0)))
		if err != nil {
			return err
		}
		ts.Valid = append(ts.Valid, m.Token)
	}
	for i := range 20 {
		m, err := h.Mint(realisticSession(i, -time.Hour))
		if err != nil {
			return err
		}
		ts.Expired = append(ts.Expired, m.Token)
	}
	for i := range 20 + *flood {
		t, err := forge(ts.Valid[i%len(ts.Valid)], i)
		if err != nil {
			return err
		}
		if i < 20 {
			ts.Forged = append(ts.Forged, t)
		} else {
			ts.Flood = append(ts.Flood, t)
		}
	}
	b, err := json.Marshal(ts)
	if err != nil {
		return err
	}
	// Written whole, then renamed: the harness never reads half a file.
	tmp := filepath.Join(*dir, "hanko.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(*dir, "hanko.json")); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", h.Handler())
	mux.HandleFunc("/_bench/calls", func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(map[string]int{
			"validate": h.Calls(hankotest.EndpointValidate),
			"jwks":     h.Calls(hankotest.EndpointJWKS),
		})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// realisticSession is a session as a Hanko project with a JWT template
// issues it: email, username, amr and a few custom claims.
func realisticSession(i int, lifetime time.Duration) hankotest.Session {
	return hankotest.Session{
		Email:    fmt.Sprintf("user%04d@example.com", i),
		Username: fmt.Sprintf("user%04d", i),
		AMR:      []string{"passkey"},
		Lifetime: lifetime,
		Claims: map[string]any{
			"role":   []string{"member", "billing"}[i%2],
			"tenant": fmt.Sprintf("tenant-%02d", i%17),
			"plan":   "pro",
		},
	}
}

// forge returns token with its payload changed (another session id, n)
// and the original signature: a token with a valid header and kid whose
// signature does not verify.
func forge(token string, n int) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("not a JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", err
	}
	claims["session_id"] = fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	payload, err = json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2], nil
}

// readTokenSet waits for dir/hanko.json and reads it.
func readTokenSet(ctx context.Context, dir string) (*tokenSet, error) {
	p := filepath.Join(dir, "hanko.json")
	for {
		b, err := os.ReadFile(p)
		if err == nil {
			var ts tokenSet
			if err := json.Unmarshal(b, &ts); err != nil {
				return nil, err
			}
			return &ts, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("fake hanko did not write %s: %w", p, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
