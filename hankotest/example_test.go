package hankotest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"

	"github.com/hankoauth/hankoauth/hankotest"
)

// A test starts a fake Hanko, mints a session token for a user and hands
// the code under test the server's URL and the token.
func ExampleNewServer() {
	srv := hankotest.NewServer()
	defer srv.Close()

	m, err := srv.Mint(hankotest.Session{Email: "alice@example.com", AMR: []string{"pwd"}})
	if err != nil {
		log.Fatal(err)
	}

	// What a validator does with it: ask Hanko.
	body, err := json.Marshal(map[string]string{"session_token": m.Token})
	if err != nil {
		log.Fatal(err)
	}
	resp, err := srv.Client().Post(srv.URL+"/sessions/validate", "application/json", bytes.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		IsValid bool `json:"is_valid"`
		Claims  struct {
			Email struct{ Address string } `json:"email"`
		} `json:"claims"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, v.IsValid, v.Claims.Email.Address)

	// After a logout, Hanko says the session is gone — with status 200.
	srv.Revoke(m.SessionID)
	resp2, err := srv.Client().Post(srv.URL+"/sessions/validate", "application/json", bytes.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	defer resp2.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp2.Body)
	fmt.Print(resp2.StatusCode, " ", buf.String())

	// Output:
	// 200 true alice@example.com
	// 200 {"is_valid":false}
}
