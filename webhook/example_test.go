package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
	"github.com/hankoauth/hankoauth/webhook"
)

// A validator that receives Hanko's webhooks rejects a revoked session at
// once, although RevalidateAfter is an hour.
func Example() {
	var receiver atomic.Pointer[webhook.Handler]
	mux := http.NewServeMux()
	mux.HandleFunc(webhook.DefaultPath, func(w http.ResponseWriter, r *http.Request) { receiver.Load().ServeHTTP(w, r) })
	srv := httptest.NewServer(mux) // your server's HTTP listener
	defer srv.Close()

	hanko := hankotest.NewServer(hankotest.WithWebhook(srv.URL+webhook.DefaultPath, "session", "user.delete"))
	defer hanko.Close()
	v, _ := hankoauth.New(hankoauth.Config{APIURL: hanko.URL, RevalidateAfter: time.Hour})
	defer v.Close()
	receiver.Store(webhook.NewHandler(v))

	m, _ := hanko.Mint(hankotest.Session{})
	_, err := v.Validate(context.Background(), m.Token)
	fmt.Println("before:", hankoauth.ReasonOf(err))

	hanko.Revoke(m.SessionID) // Hanko sends session.delete.admin.revoke
	hanko.WaitWebhooks()
	_, err = v.Validate(context.Background(), m.Token)
	fmt.Println("after:", hankoauth.ReasonOf(err))
	// Output:
	// before: OK
	// after: SESSION_REVOKED
}
