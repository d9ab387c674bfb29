package main

import (
	"fmt"
	"math/rand/v2"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// request is one request of the stream, as a browser or API client sends
// it through a proxy: method, path and about 12 headers, the token in
// the hanko cookie or the Authorization header (or absent).
type request struct {
	method  string
	path    string
	headers [][2]string // lower-case names, without the pseudo-headers
	check   *authv3.CheckRequest
}

// streamMix says which tokens a stream carries.
type streamMix struct {
	invalid float64 // share of requests without a live session
}

// buildStream makes n requests over ts's tokens. Of the invalid share,
// 40% carry no token, 20% a malformed one, 20% an expired one and 20% a
// forged one (valid header and kid, bad signature).
func buildStream(ts *tokenSet, n int, mix streamMix, seed uint64) []*request {
	rng := rand.New(rand.NewPCG(seed, 1))
	paths := []string{"/api/orders", "/api/orders/%d", "/api/cart", "/api/profile", "/api/search?q=shoes&page=%d", "/static/app.js"}
	reqs := make([]*request, n)
	for i := range reqs {
		token := ts.Valid[rng.IntN(len(ts.Valid))]
		if rng.Float64() < mix.invalid {
			switch x := rng.Float64(); {
			case x < 0.4:
				token = ""
			case x < 0.6:
				token = "eyJhbGciOiJSUzI1NiJ9.not-a-token." + fmt.Sprint(rng.IntN(1000))
			case x < 0.8:
				token = ts.Expired[rng.IntN(len(ts.Expired))]
			default:
				token = ts.Forged[rng.IntN(len(ts.Forged))]
			}
		}
		p := paths[rng.IntN(len(paths))]
		if strings.Contains(p, "%d") {
			p = fmt.Sprintf(p, rng.IntN(10000))
		}
		method := "GET"
		if rng.IntN(5) == 0 {
			method = "POST"
		}
		h := [][2]string{
			{"user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"},
			{"accept", "application/json, text/plain, */*"},
			{"accept-encoding", "gzip, deflate, br"},
			{"accept-language", "en-US,en;q=0.9,de;q=0.8"},
			{"x-request-id", fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), rng.IntN(1<<12), rng.Uint64()&(1<<48-1))},
			{"x-forwarded-for", fmt.Sprintf("203.0.113.%d", rng.IntN(250)+1)},
			{"x-forwarded-proto", "https"},
			{"traceparent", fmt.Sprintf("00-%016x%016x-%016x-01", rng.Uint64(), rng.Uint64(), rng.Uint64())},
			{"origin", "https://app.example.com"},
			{"referer", "https://app.example.com/orders"},
		}
		cookie := "_ga=GA1.2.1234567890.1700000000; theme=dark"
		switch {
		case token == "":
		case rng.IntN(2) == 0:
			cookie = "_ga=GA1.2.1234567890.1700000000; hanko=" + token + "; theme=dark"
		default:
			h = append(h, [2]string{"authorization", "Bearer " + token})
		}
		h = append(h, [2]string{"cookie", cookie})
		if method == "POST" {
			h = append(h, [2]string{"content-type", "application/json"})
		}
		reqs[i] = &request{method: method, path: p, headers: h, check: checkRequest(method, p, h)}
	}
	return reqs
}

// checkRequest is the CheckRequest Envoy sends for the request.
func checkRequest(method, path string, h [][2]string) *authv3.CheckRequest {
	m := map[string]string{":method": method, ":path": path, ":authority": "app.example.com", ":scheme": "https"}
	for _, kv := range h {
		m[kv[0]] = kv[1]
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: sockAddr("10.0.0.7", 51234)},
		Destination: &authv3.AttributeContext_Peer{Address: sockAddr("10.0.0.9", 8080)},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: m["x-request-id"], Method: method, Path: path, Host: "app.example.com", Scheme: "https",
			Protocol: "HTTP/1.1", Headers: m,
		}},
	}}
}

func sockAddr(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}
