package hankoauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
)

func Example() {
	hanko := hankotest.NewServer() // in production: your Hanko's public API URL
	defer hanko.Close()
	minted, _ := hanko.Mint(hankotest.Session{Email: "alice@example.com", AMR: []string{"passkey"}})

	v, err := hankoauth.New(hankoauth.Config{
		APIURL:          hanko.URL,
		RevalidateAfter: 15 * time.Second, // the longest a revoked session still gets in
	})
	if err != nil {
		panic(err)
	}
	defer v.Close()

	s, err := v.Validate(context.Background(), minted.Token)
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Email.Address, s.HasAMR("passkey"))
	// Output: alice@example.com true
}

// A rejected token's error tells the class (for the status code) and the
// precise reason (for logs and metrics) apart.
func ExampleValidator_Validate_errors() {
	hanko := hankotest.NewServer()
	defer hanko.Close()
	minted, _ := hanko.Mint(hankotest.Session{})
	hanko.Revoke(minted.SessionID) // logout

	v, _ := hankoauth.New(hankoauth.Config{APIURL: hanko.URL})
	defer v.Close()

	_, err := v.Validate(context.Background(), minted.Token)
	switch {
	case errors.Is(err, hankoauth.ErrUnavailable):
		fmt.Println("retry later")
	case errors.Is(err, hankoauth.ErrInvalidToken), errors.Is(err, hankoauth.ErrNoToken):
		fmt.Println("log in again:", hankoauth.ReasonOf(err))
	}
	// Output: log in again: SESSION_REVOKED
}

// Extractor reads the token from any request headers; here net/http.
func ExampleExtractor() {
	r, _ := http.NewRequest(http.MethodGet, "https://app.example.com/", nil)
	r.Header.Add("Cookie", "theme=dark; hanko=eyJhbGciOi...")

	token, err := hankoauth.Extractor{}.Extract(hankoauth.HTTPHeaderLookup(r.Header))
	fmt.Println(token, err)

	r.Header.Set("Authorization", "Bearer another-token")
	_, err = hankoauth.Extractor{}.Extract(hankoauth.HTTPHeaderLookup(r.Header))
	fmt.Println(hankoauth.ReasonOf(err))
	// Output:
	// eyJhbGciOi... <nil>
	// TOKEN_AMBIGUOUS
}

// RevokeSession applies a revocation pushed from outside (Hanko's
// session.delete.* webhooks) to every cached token of the session at once.
func ExampleValidator_RevokeSession() {
	hanko := hankotest.NewServer()
	defer hanko.Close()
	minted, _ := hanko.Mint(hankotest.Session{})
	v, _ := hankoauth.New(hankoauth.Config{APIURL: hanko.URL})
	defer v.Close()
	_, _ = v.Validate(context.Background(), minted.Token)

	_ = v.RevokeSession(minted.SessionID, minted.ExpiresAt)
	_, err := v.Validate(context.Background(), minted.Token)
	fmt.Println(hankoauth.ReasonOf(err))
	// Output: SESSION_REVOKED
}

// With OutageStale, a session Hanko confirmed keeps working through a
// Hanko outage for the grace period; a new session fails closed.
func ExampleConfig_outage() {
	hanko := hankotest.NewServer()
	defer hanko.Close()
	v, err := hankoauth.New(hankoauth.Config{
		APIURL:      hanko.URL,
		Outage:      hankoauth.OutageStale,
		OutageGrace: 10 * time.Minute,
		CacheSize:   -1, // ask Hanko on every call, to show the outage at once
	})
	if err != nil {
		panic(err)
	}
	defer v.Close()
	known, _ := hanko.Mint(hankotest.Session{})
	_, err = v.Validate(context.Background(), known.Token)
	fmt.Println("before:", hankoauth.ReasonOf(err))

	hanko.Fail(hankotest.EndpointValidate, hankotest.Failure{Status: http.StatusServiceUnavailable})
	fresh, _ := hanko.Mint(hankotest.Session{})
	_, err = v.Validate(context.Background(), known.Token)
	fmt.Println("confirmed session:", hankoauth.ReasonOf(err))
	_, err = v.Validate(context.Background(), fresh.Token)
	fmt.Println("new session:", hankoauth.ReasonOf(err))
	fmt.Println("degraded:", v.Outage().Degraded())
	// Output:
	// before: OK
	// confirmed session: OK
	// new session: HANKO_UNAVAILABLE
	// degraded: true
}
