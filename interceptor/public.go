package interceptor

import (
	"fmt"
	"strings"
)

// publicMethods is the set of methods and services that need no session.
// It is built while the options are applied and read-only afterwards.
type publicMethods struct {
	methods  map[string]struct{} // full method names, "/pkg.Svc/Method"
	services map[string]struct{} // service names, "pkg.Svc"
}

// add parses one entry of WithPublicMethods: "/pkg.Svc/Method",
// "pkg.Svc/Method", "/pkg.Svc/" or "pkg.Svc".
func (p *publicMethods) add(entry string) error {
	name := strings.TrimPrefix(strings.TrimSpace(entry), "/")
	svc, method, hasMethod := strings.Cut(name, "/")
	switch {
	case svc == "":
		return fmt.Errorf("interceptor: public method %q: empty service name", entry)
	case strings.ContainsAny(svc, " \t") || strings.ContainsAny(method, "/ \t"):
		return fmt.Errorf("interceptor: public method %q: want \"/pkg.Service/Method\", \"/pkg.Service/\" or \"pkg.Service\"", entry)
	case !hasMethod || method == "":
		if p.services == nil {
			p.services = make(map[string]struct{})
		}
		p.services[svc] = struct{}{}
	default:
		if p.methods == nil {
			p.methods = make(map[string]struct{})
		}
		p.methods["/"+svc+"/"+method] = struct{}{}
	}
	return nil
}

// match reports whether fullMethod ("/pkg.Svc/Method", as gRPC names it)
// is public. It does not allocate.
func (p *publicMethods) match(fullMethod string) bool {
	if len(p.methods) == 0 && len(p.services) == 0 {
		return false
	}
	if _, ok := p.methods[fullMethod]; ok {
		return true
	}
	if len(p.services) == 0 || !strings.HasPrefix(fullMethod, "/") {
		return false
	}
	i := strings.LastIndexByte(fullMethod, '/')
	if i <= 0 {
		return false
	}
	_, ok := p.services[fullMethod[1:i]]
	return ok
}
