package extauthz

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/hankoauth/hankoauth"
)

// The bounds on the headers of one CheckRequest. Envoy sends at most
// max_headers_count (100) headers of max_request_headers_kb (60 KiB) by
// default; a request beyond these bounds, which only a caller other than a
// sanely configured Envoy sends, is denied with hankoauth.ReasonHeadersTooLarge
// (HTTP 431) before any header is read.
const (
	// MaxCheckHeaders bounds the entries of headers and header_map together.
	MaxCheckHeaders = 1024
	// MaxCheckHeaderBytes bounds the bytes of every name and value
	// (value and raw_value) of headers and header_map together.
	MaxCheckHeaderBytes = 256 << 10
)

// errHeadersTooLarge is the detail of a ReasonHeadersTooLarge denial.
type errHeadersTooLarge struct{ entries, bytes int }

func (e errHeadersTooLarge) Error() string {
	return fmt.Sprintf("check request has %d headers of %d bytes (at most %d headers of %d bytes)",
		e.entries, e.bytes, MaxCheckHeaders, MaxCheckHeaderBytes)
}

// checkHeaders looks headers up in an HTTP request of a CheckRequest. Envoy
// fills either the headers map (repeated headers joined) or, with
// encode_raw_headers, header_map (repeated headers kept, values possibly
// in raw_value only); both are read, and a value found in both is
// returned once. Names are compared lower-case, as Envoy sends them.
//
// The work is linear in the size of the headers: header_map is indexed
// once, by newCheckHeaders, and each lookup is a map access.
type checkHeaders struct {
	http  *authv3.AttributeContext_HttpRequest
	index map[string][]string // header_map by lower-case name, values unique; nil when empty
}

// newCheckHeaders checks the bounds of h's headers and indexes its
// header_map.
func newCheckHeaders(h *authv3.AttributeContext_HttpRequest) (checkHeaders, error) {
	hm := h.GetHeaderMap().GetHeaders()
	n := len(h.GetHeaders()) + len(hm)
	if n > MaxCheckHeaders {
		return checkHeaders{}, errHeadersTooLarge{entries: n}
	}
	size := 0
	for k, v := range h.GetHeaders() {
		size += len(k) + len(v)
	}
	for _, hv := range hm {
		size += len(hv.GetKey()) + len(hv.GetValue()) + len(hv.GetRawValue())
	}
	if size > MaxCheckHeaderBytes {
		return checkHeaders{}, errHeadersTooLarge{entries: n, bytes: size}
	}
	c := checkHeaders{http: h}
	if len(hm) == 0 {
		return c, nil
	}
	type pair struct{ name, value string }
	seen := make(map[pair]bool, len(hm))
	c.index = make(map[string][]string)
	for _, hv := range hm {
		name := strings.ToLower(hv.GetKey())
		v := hv.GetValue()
		if v == "" {
			v = string(hv.GetRawValue())
		}
		if seen[pair{name, v}] {
			continue
		}
		seen[pair{name, v}] = true
		c.index[name] = append(c.index[name], v)
	}
	return c, nil
}

func (h checkHeaders) lookup(name string) []string {
	v, inMap := h.http.GetHeaders()[name]
	hm := h.index[name]
	switch {
	case !inMap:
		return hm
	case len(hm) == 0:
		return []string{v}
	}
	out := make([]string, 0, len(hm)+1)
	out = append(out, v)
	for _, x := range hm {
		if x != v {
			out = append(out, x)
		}
	}
	return out
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

// headersTooLarge denies a CheckRequest whose headers exceed the bounds
// with hankoauth.ReasonHeadersTooLarge (HTTP 431, INVALID_ARGUMENT), before
// any of them is read.
func (s *Server) headersTooLarge(ctx context.Context, err error) *authv3.CheckResponse {
	r := hankoauth.ReasonHeadersTooLarge
	if s.hook != nil {
		s.hook(ctx, hankoauth.NewDecision(edgeCheck, r, "", false))
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "extauthz: request deny",
		slog.String("edge", edgeCheck),
		slog.String("reason", string(r)),
		slog.String("error", err.Error()))
	noHeaders := func(string) []string { return nil }
	return s.checkResponse(verdict{reason: r}, request{edge: edgeCheck, headers: noHeaders})
}
