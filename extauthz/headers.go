package extauthz

import (
	"bytes"
	"encoding/json"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/hankoauth/hankoauth"
)

// checkHeaders looks headers up in an HTTP request of a CheckRequest. Envoy
// fills either the headers map (repeated headers joined) or, with
// encode_raw_headers, header_map (repeated headers kept, values possibly
// in raw_value only); both are read, and a value found in both is
// returned once. Names are compared lower-case, as Envoy sends them.
type checkHeaders struct {
	http *authv3.AttributeContext_HttpRequest
}

func (h checkHeaders) lookup(name string) []string {
	var out []string
	if v, ok := h.http.GetHeaders()[name]; ok {
		out = append(out, v)
	}
	for _, hv := range h.http.GetHeaderMap().GetHeaders() {
		if !strings.EqualFold(hv.GetKey(), name) {
			continue
		}
		v := hv.GetValue()
		if v == "" {
			v = string(hv.GetRawValue())
		}
		if !contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// first returns the first value of a header, or "".
func first(lookup hankoauth.HeaderLookup, name string) string {
	if v := lookup(name); len(v) > 0 {
		return v[0]
	}
	return ""
}

// isGRPC reports whether a request's content type is gRPC's
// ("application/grpc", "application/grpc+proto", ...). gRPC-Web is not:
// its clients read a different response framing.
func isGRPC(contentType string) bool {
	const g = "application/grpc"
	if len(contentType) < len(g) || !strings.EqualFold(contentType[:len(g)], g) {
		return false
	}
	rest := contentType[len(g):]
	return rest == "" || rest[0] == '+' || rest[0] == ';'
}

// header is one header to set.
type header struct {
	name, value string
}

// identity returns the identity headers that session s provides, and the
// configured identity headers it does not provide (to be removed).
func (s *Server) identityHeaders(sess *hankoauth.Session) (set []header, unset []string) {
	set = make([]header, 0, len(s.identity))
	add := func(name, value string) {
		if value != "" && validHeaderValue(value) {
			set = append(set, header{name, value})
		} else {
			unset = append(unset, name)
		}
	}
	add(s.userID, sess.UserID)
	add(s.sessionID, sess.SessionID)
	email := ""
	if sess.Email != nil {
		email = sess.Email.Address
	}
	add(s.email, email)
	if len(s.claims) > 0 {
		var claims map[string]json.RawMessage
		if err := sess.Claims(&claims); err != nil {
			claims = nil
		}
		for _, c := range s.claims {
			add(c.header, claimValue(claims[c.claim]))
		}
	}
	return set, unset
}

// claimValue renders a claim for a header: a string as it is, a number or
// boolean as its JSON text, anything else (null, object, array, absent)
// as "" (not sent).
func claimValue(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	case c == 't' || c == 'f' || c == '-' || '0' <= c && c <= '9':
		return string(raw)
	}
	return ""
}

// validHeaderValue reports whether v can be sent as a header value as it
// is: no control characters but tab, no leading or trailing space.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return strings.TrimSpace(v) == v
}

// stripToken works out how to remove the session token from the upstream
// request, from where the extractor found it: the Authorization header,
// and the session cookie from every cookie header (rewritten without it,
// or removed when nothing else is left).
func (s *Server) stripToken(lookup hankoauth.HeaderLookup, src hankoauth.Source) (set []header, remove []string) {
	if src&hankoauth.SourceAuthorization != 0 {
		remove = append(remove, "authorization")
	}
	if src&hankoauth.SourceCookie == 0 {
		return set, remove
	}
	var kept []string
	for _, v := range lookup("cookie") {
		if rest, _ := hankoauth.RemoveCookie(v, s.cookie); rest != "" {
			kept = append(kept, rest)
		}
	}
	if len(kept) == 0 {
		remove = append(remove, "cookie")
	} else {
		set = append(set, header{"cookie", strings.Join(kept, "; ")})
	}
	return set, remove
}
