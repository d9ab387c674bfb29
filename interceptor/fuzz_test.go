package interceptor

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
)

// FuzzPublicMethods checks the parsing of WithPublicMethods entries and
// the matching of method names against a plain statement of the rule.
func FuzzPublicMethods(f *testing.F) {
	for _, s := range [][2]string{
		{"/a.S/M", "/a.S/M"}, {"a.S", "/a.S/X"}, {"/a.S/", "/a.S/"}, {"a.S/M", "/a.S/M/"},
		{"", "/"}, {"/", "//"}, {" a.S ", "/a.S/x/y"}, {"a b", "/a b/c"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, entry, method string) {
		var p publicMethods
		if err := p.add(entry); err != nil {
			if p.match(method) {
				t.Fatalf("nothing added, but %q matches", method)
			}
			return
		}
		name := strings.TrimPrefix(strings.TrimSpace(entry), "/")
		svc, m, _ := strings.Cut(name, "/")
		var want bool
		if m == "" { // a whole service
			rest, ok := strings.CutPrefix(method, "/"+svc+"/")
			want = ok && !strings.Contains(rest, "/")
			if !p.match("/" + svc + "/Method") {
				t.Errorf("service %q: its methods do not match", entry)
			}
		} else {
			want = method == "/"+svc+"/"+m
			if !p.match("/" + svc + "/" + m) {
				t.Errorf("method %q does not match itself", entry)
			}
		}
		if got := p.match(method); got != want {
			t.Errorf("entry %q: match(%q) = %v, want %v", entry, method, got, want)
		}
	})
}

// FuzzForward checks that whatever the incoming metadata holds, the
// forwarder adds at most one well-formed bearer token, taken from it.
func FuzzForward(f *testing.F) {
	f.Add("Bearer abc", "hanko=abc", "")
	f.Add("bearer  a b", "hanko=\"x\"; hanko=y", "tok")
	f.Add("", "a=b;hanko=", " ")
	f.Fuzz(func(t *testing.T, authz, cookie, header string) {
		fw := mustForwarder(WithForwardTokenHeader("x-token"))
		in := metadata.MD{}
		for k, v := range map[string]string{"authorization": authz, "cookie": cookie, "x-token": header} {
			if v != "" {
				in[k] = []string{v}
			}
		}
		ctx := fw.forward(metadata.NewIncomingContext(context.Background(), in), nil)
		out, _ := metadata.FromOutgoingContext(ctx)
		got := out.Get("authorization")
		switch {
		case len(got) == 0:
		case len(got) > 1:
			t.Fatalf("forwarded %q", got)
		default:
			tok, ok := strings.CutPrefix(got[0], "Bearer ")
			if !ok || tok == "" || strings.ContainsAny(tok, " \t") {
				t.Fatalf("forwarded a malformed value %q", got[0])
			}
			if !strings.Contains(authz+cookie+header, tok) {
				t.Fatalf("forwarded %q, which the request did not carry", tok)
			}
		}
	})
}
