package extauthz

import (
	"errors"
	"slices"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"

	"github.com/hankoauth/hankoauth"
)

func TestPublicPath(t *testing.T) {
	patterns := mustPatterns(t, "/public/", "/static*", "/healthz")
	tests := []struct {
		path string
		want bool
	}{
		{"/public/", true},
		{"/public/app.css", true},
		{"/public/app.css?v=1#top", true},
		{"/public//app.css", true},
		{"/public/a%20b.css", true},
		{"/static", true},
		{"/staticfiles/x", true},
		{"/healthz", true},
		{"/healthz?full=1", true},
		{"//public/app.css", true}, // collapses to /public/app.css
		{"/public", false},
		{"/healthz/", false},
		{"/PUBLIC/app.css", false},
		{"/public/../admin", false},
		{"/public/./app.css", false},
		{"/public/%2e%2e/admin", false},
		{"/public/%2E%2E/admin", false},
		{"/public/.%2e/admin", false},
		{"/public/..;/admin", false},
		{"/public%2F..%2Fadmin", false},
		{"/public/%2fadmin", false},
		{"/public/%5c..%5cadmin", false},
		{"/public/..\\admin", false},
		{"/public/%00", false},
		{"/public/%252e%252e/admin", false},
		{"/public/%zz", false},
		{"/public/%2", false},
		{"public/app.css", false},
		{"", false},
		{"*", false},
		{"/admin?next=/public/", false},
		{"/admin#/public/", false},
	}
	for _, tt := range tests {
		if got := isPublicPath(patterns, tt.path); got != tt.want {
			t.Errorf("isPublicPath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestParsePatternRejects(t *testing.T) {
	for _, p := range []string{"", "public/", "/a/../b", "/a//b", "/a/./", "/a%2f", "/a*b*", "/a?x"} {
		if _, err := parsePattern(p); err == nil {
			t.Errorf("parsePattern(%q) accepted", p)
		}
	}
}

func mustPatterns(tb testing.TB, ps ...string) []pathPattern {
	tb.Helper()
	var out []pathPattern
	for _, p := range ps {
		pp, err := parsePattern(p)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, pp)
	}
	return out
}

// FuzzPublicPath checks that the path normaliser never panics, and that a
// path it calls public never has a dot segment, an encoded slash or a NUL,
// however it is encoded.
func FuzzPublicPath(f *testing.F) {
	for _, s := range []string{
		"/public/app.css", "/public/../admin", "/public/%2e%2e/admin", "/public%2F..%2Fadmin",
		"//public//x/", "/static/..;/x", "/public/%252e", "/healthz?x=/../", "/public/%",
	} {
		f.Add(s)
	}
	patterns := mustPatterns(f, "/public/", "/static*", "/healthz", "/")
	f.Fuzz(func(t *testing.T, raw string) {
		n, ok := normalizePath(raw)
		public := isPublicPath(patterns, raw)
		if !public {
			return
		}
		if !ok || !strings.HasPrefix(n, "/") || strings.Contains(n, "//") {
			t.Fatalf("public %q normalised to %q, %v", raw, n, ok)
		}
		p := target(raw)
		decoded, err := pathUnescapeAll(p)
		if err != nil {
			t.Fatalf("public %q does not decode: %v", raw, err)
		}
		for _, seg := range strings.Split(decoded, "/") {
			seg, _, _ = strings.Cut(seg, ";")
			if seg == "." || seg == ".." {
				t.Fatalf("public %q has a dot segment after decoding (%q)", raw, decoded)
			}
		}
		if strings.ContainsAny(decoded, "\\\x00") || strings.Contains(strings.ToLower(p), "%2f") {
			t.Fatalf("public %q hides a separator or NUL", raw)
		}
	})
}

// pathUnescapeAll decodes p as often as it has escapes, as a badly written
// upstream might, and reports an error for an invalid escape.
func pathUnescapeAll(p string) (string, error) {
	for range 4 {
		u, ok := unescapeAny(p)
		if !ok {
			return "", errBadEscape
		}
		if u == p {
			return u, nil
		}
		p = u
	}
	return p, nil
}

var errBadEscape = errors.New("invalid escape")

// unescapeAny percent-decodes p without unescapePath's refusals.
func unescapeAny(p string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			b.WriteByte(p[i])
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", false
		}
		b.WriteByte(unhex(p[i+1])<<4 | unhex(p[i+2]))
		i += 2
	}
	return b.String(), true
}

// FuzzCheckHeaders feeds arbitrary CheckRequests (as protobuf bytes) to
// the header lookup, the extractor and the token stripping: nothing
// panics, an extracted token is in one of the request's headers, and a
// stripped request no longer carries it.
func FuzzCheckHeaders(f *testing.F) {
	seeds := []*authv3.CheckRequest{
		checkRequest(map[string]string{"authorization": "Bearer abc.def.ghi"}),
		checkRequest(map[string]string{"cookie": "a=1; hanko=abc.def.ghi; b=2"}),
		checkRequest(map[string]string{"authorization": "Bearer x", "cookie": "hanko=y"}),
		checkRequest(nil, "cookie", "hanko=abc", "authorization", "bearer abc", "cookie", "hanko=abc; c=d"),
		{},
	}
	for _, s := range seeds {
		b, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	s := &Server{cookie: hankoauth.DefaultCookieName}
	x := hankoauth.Extractor{}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req authv3.CheckRequest
		if proto.Unmarshal(data, &req) != nil {
			return
		}
		lookup := checkHeaders{req.GetAttributes().GetRequest().GetHttp()}.lookup
		_ = isGRPC(first(lookup, "content-type"))
		token, src, err := x.ExtractSource(lookup)
		if err != nil {
			return
		}
		all := append(lookup("authorization"), lookup("cookie")...)
		if !slices.ContainsFunc(all, func(v string) bool { return strings.Contains(v, token) }) {
			t.Fatalf("token %q is in no header", token)
		}
		set, remove := s.stripToken(lookup, src)
		stripped := func(name string) []string {
			if slices.Contains(remove, name) {
				return nil
			}
			for _, h := range set {
				if h.name == name {
					return []string{h.value}
				}
			}
			return lookup(name)
		}
		if got, err := x.Extract(stripped); err == nil && got == token {
			t.Fatalf("token still extractable after stripping: set %v, remove %v", set, remove)
		}
	})
}

// checkRequest builds a CheckRequest with a headers map and header_map
// pairs (name, value, ...).
func checkRequest(headers map[string]string, pairs ...string) *authv3.CheckRequest {
	h := &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/", Headers: headers}
	if len(pairs) > 0 {
		h.HeaderMap = new(corev3.HeaderMap)
		for i := 0; i+1 < len(pairs); i += 2 {
			h.HeaderMap.Headers = append(h.HeaderMap.Headers, &corev3.HeaderValue{Key: pairs[i], RawValue: []byte(pairs[i+1])})
		}
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: h}}}
}
