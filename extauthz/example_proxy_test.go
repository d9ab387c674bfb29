package extauthz_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/extauthz"
	"github.com/hankoauth/hankoauth/hankotest"
)

// nginx auth_request names the original request in X-Original-URI and
// X-Original-Method, which the auth location sets; a client's own
// X-Forwarded-Uri (the header Traefik would set) is ignored.
func ExampleServer_ProxyHandler() {
	hanko := hankotest.NewServer()
	defer hanko.Close()
	v, err := hankoauth.New(hankoauth.Config{APIURL: hanko.URL})
	if err != nil {
		panic(err)
	}
	defer v.Close()
	if err := v.WaitReady(context.Background()); err != nil {
		panic(err)
	}
	authz, err := extauthz.NewServer(v, extauthz.WithPublicPaths("/public/"))
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(authz.ProxyHandler(extauthz.ProxyNginx, "/authz"))
	defer ts.Close()

	ask := func(header map[string]string) {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/authz", nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	ask(map[string]string{"X-Original-URI": "/public/app.css", "X-Original-Method": "GET"})
	ask(map[string]string{"X-Original-URI": "/admin", "X-Original-Method": "GET", "X-Forwarded-Uri": "/public/app.css"})
	// Output:
	// 200
	// 401
}
