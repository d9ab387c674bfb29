package extauthz

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// pathPattern is one public path pattern: an exact path, or a prefix.
type pathPattern struct {
	p      string
	prefix bool
}

func (pp pathPattern) match(p string) bool {
	if pp.prefix {
		return strings.HasPrefix(p, pp.p)
	}
	return p == pp.p
}

// parsePattern checks a public path pattern. It must be a clean absolute
// path (what normalizePath would return for itself), or the match could
// never hold, or hold for paths nobody meant.
func parsePattern(s string) (pathPattern, error) {
	pp := pathPattern{p: s}
	switch {
	case strings.HasSuffix(s, "*"):
		pp.p, pp.prefix = s[:len(s)-1], true
	case strings.HasSuffix(s, "/"):
		pp.prefix = true
	}
	if n, ok := normalizePath(pp.p); !ok || n != pp.p || strings.ContainsAny(pp.p, "*?#%") {
		return pp, fmt.Errorf("extauthz: public path %q is not a clean absolute path", s)
	}
	return pp, nil
}

// isPublicPath reports whether the request path raw (as sent, query
// included) matches one of the patterns once normalised.
func isPublicPath(patterns []pathPattern, raw string) bool {
	if len(patterns) == 0 {
		return false
	}
	p, ok := normalizePath(raw)
	if !ok {
		return false
	}
	for _, pp := range patterns {
		if pp.match(p) {
			return true
		}
	}
	return false
}

// normalizePath returns the path part of a request target as the
// upstream will most likely understand it: without query and fragment,
// percent-decoded. It reports false for a path that cannot be trusted to
// mean one thing, which is then never public:
//
//   - not absolute, or with an invalid percent-encoding;
//   - with an empty segment ("//"): some servers collapse it, others read
//     a leading "//x" as a host name, so no form of it is matched;
//   - with an encoded slash ("%2F"), a backslash, a NUL, or a "%" left
//     after decoding (double encoding);
//   - with bytes that are not UTF-8 after decoding, such as an overlong
//     form of "." or "/" ("%C0%AE", "%C0%AF") that a lenient decoder
//     upstream would turn into one;
//   - with a "." or ".." segment, before or after decoding, also with a
//     ";parameter" (as some servers read "..;/"). Envoy's normalize_path
//     removes them before ext_authz sees the path, so only a request
//     trying to escape a public prefix has them here.
func normalizePath(raw string) (string, bool) {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if raw == "" || raw[0] != '/' || strings.Contains(raw, "//") {
		return "", false
	}
	p, ok := unescapePath(raw)
	if !ok || !utf8.ValidString(p) {
		return "", false
	}
	for seg := range strings.SplitSeq(p, "/") {
		if i := strings.IndexByte(seg, ';'); i >= 0 {
			seg = seg[:i]
		}
		if seg == "." || seg == ".." {
			return "", false
		}
	}
	return p, true
}

// unescapePath percent-decodes p. It fails on an invalid escape, and on
// what decodes to a slash, a backslash, a NUL or a percent sign.
func unescapePath(p string) (string, bool) {
	if strings.ContainsAny(p, "\\\x00") {
		return "", false
	}
	if !strings.Contains(p, "%") {
		return p, true
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", false
		}
		c = unhex(p[i+1])<<4 | unhex(p[i+2])
		switch c {
		case '/', '\\', 0, '%':
			return "", false
		}
		b.WriteByte(c)
		i += 2
	}
	return b.String(), true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
