package hankoauth

import (
	"net/http"
	"strings"
)

// DefaultCookieName is the name of Hanko's session cookie.
const DefaultCookieName = "hanko"

// Extractor finds the session token in a request's headers. It serves
// every edge alike: gRPC metadata, Envoy's CheckRequest headers and
// net/http all offer a lookup by header name.
//
// The token comes from "authorization: Bearer <token>" (the scheme is
// case-insensitive; a header without it is not a token), then from the
// cookie CookieName in any of CookieHeaders. A request whose Authorization
// values differ, or whose bearer token and cookie differ, is rejected as
// ambiguous (ErrAmbiguousToken): the validator never guesses which one the
// caller meant. The zero Extractor is ready to use.
type Extractor struct {
	// CookieName is the session cookie's name. Default "hanko".
	CookieName string
	// CookieHeaders are the headers that carry cookies, lower-case.
	// Default ["cookie"]; grpc-gateway forwards them as
	// "grpcgateway-cookie".
	CookieHeaders []string
	// TokenHeaders are extra headers, lower-case, that carry a bare token
	// (no scheme), checked after Authorization. Empty by default.
	TokenHeaders []string
}

// HeaderLookup returns all values of the header name (given lower-case).
// metadata.MD.Get fits it as it is; for net/http use HTTPHeaderLookup.
type HeaderLookup func(name string) []string

// HTTPHeaderLookup adapts an http.Header.
func HTTPHeaderLookup(h http.Header) HeaderLookup {
	return func(name string) []string { return h.Values(name) }
}

// Extract returns the single token the headers carry, ErrNoToken when they
// carry none, or an *Error for ErrAmbiguousToken or ErrMalformed (a token
// longer than MaxTokenLength, or an Authorization header that is not a
// bearer token).
func (x Extractor) Extract(lookup HeaderLookup) (string, error) {
	t, _, err := x.ExtractSource(lookup)
	return t, err
}

// Source says where Extract found the token: a set of Source bits, since
// several sources may carry the same token.
type Source uint8

// The sources of a token.
const (
	// SourceAuthorization: an "authorization: Bearer" value.
	SourceAuthorization Source = 1 << iota
	// SourceTokenHeader: one of TokenHeaders.
	SourceTokenHeader
	// SourceCookie: the session cookie in one of CookieHeaders.
	SourceCookie
)

// ExtractSource is Extract, and also reports every source that carried
// the token (for an edge that removes it from the request, say).
func (x Extractor) ExtractSource(lookup HeaderLookup) (string, Source, error) {
	var token string
	var src Source
	var invalid error
	add := func(t string, from Source) bool {
		if token != "" && t != token {
			return false
		}
		token = t
		src |= from
		return true
	}
	for _, v := range lookup("authorization") {
		t, ok := bearer(v)
		if !ok {
			// Another scheme (Basic, ...) is not ours: a cookie may
			// still carry the token, but alone such a header is reported
			// as malformed rather than missing, to show the client's bug.
			invalid = newError(ErrMalformed, errNotBearer)
			continue
		}
		if !add(t, SourceAuthorization) {
			return "", 0, newError(ErrAmbiguousToken, nil)
		}
	}
	for _, h := range x.TokenHeaders {
		for _, v := range lookup(h) {
			if t := strings.TrimSpace(v); t != "" && !add(t, SourceTokenHeader) {
				return "", 0, newError(ErrAmbiguousToken, nil)
			}
		}
	}
	name := x.CookieName
	if name == "" {
		name = DefaultCookieName
	}
	headers := x.CookieHeaders
	if len(headers) == 0 {
		headers = defaultCookieHeaders
	}
	for _, h := range headers {
		for _, v := range lookup(h) {
			for _, t := range cookieValues(v, name) {
				if !add(t, SourceCookie) {
					return "", 0, newError(ErrAmbiguousToken, nil)
				}
			}
		}
	}
	switch {
	case token != "" && len(token) > MaxTokenLength:
		return "", 0, newError(ErrMalformed, errTooLong)
	case token != "":
		return token, src, nil
	case invalid != nil:
		return "", 0, invalid
	}
	return "", 0, newError(ErrNoToken, nil)
}

var defaultCookieHeaders = []string{"cookie"}

type constError string

func (e constError) Error() string { return string(e) }

const (
	errNotBearer = constError("authorization header is not a bearer token")
	errTooLong   = constError("token is longer than the limit")
)

// bearer returns the token of an "Bearer <token>" header value.
func bearer(v string) (string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	t := strings.TrimSpace(rest)
	// IndexByte is vectorised; ContainsAny walks the ~1 KiB token.
	return t, t != "" && strings.IndexByte(t, ' ') < 0 && strings.IndexByte(t, '\t') < 0
}

// cookieValues returns the non-empty values of the cookie name in one
// Cookie header value ("a=1; hanko=xyz; b=2"), following RFC 6265's
// syntax: pairs split on ';', the name compared exactly, optional double
// quotes around the value removed.
func cookieValues(header, name string) []string {
	var out []string
	for part := range strings.SplitSeq(header, ";") {
		val, ok := cookieNamed(part, name)
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		if val != "" {
			out = append(out, val)
		}
	}
	return out
}

// cookieNamed returns the value of one "name=value" pair of a Cookie
// header, if its name is name.
func cookieNamed(pair, name string) (string, bool) {
	k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
	if !ok || strings.TrimSpace(k) != name {
		return "", false
	}
	return val, true
}

// RemoveCookie returns a Cookie header value without the cookies called
// name, parsed as Extractor parses them, and whether there were any. The
// remaining pairs are joined with "; ".
func RemoveCookie(header, name string) (string, bool) {
	var kept []string
	removed := false
	for part := range strings.SplitSeq(header, ";") {
		if _, ok := cookieNamed(part, name); ok {
			removed = true
			continue
		}
		if part = strings.TrimSpace(part); part != "" {
			kept = append(kept, part)
		}
	}
	if !removed {
		return header, false
	}
	return strings.Join(kept, "; "), true
}
