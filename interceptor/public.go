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
	key, isService, err := parseMethodEntry("public method", entry)
	switch {
	case err != nil:
		return err
	case isService:
		if p.services == nil {
			p.services = make(map[string]struct{})
		}
		p.services[key] = struct{}{}
	default:
		if p.methods == nil {
			p.methods = make(map[string]struct{})
		}
		p.methods[key] = struct{}{}
	}
	return nil
}

// parseMethodEntry parses "/pkg.Svc/Method", "pkg.Svc/Method", "/pkg.Svc/"
// or "pkg.Svc" into a full method name ("/pkg.Svc/Method") or a service
// name ("pkg.Svc"). what names the option in errors.
func parseMethodEntry(what, entry string) (key string, isService bool, err error) {
	name := strings.TrimPrefix(strings.TrimSpace(entry), "/")
	svc, method, hasMethod := strings.Cut(name, "/")
	switch {
	case svc == "":
		return "", false, fmt.Errorf("interceptor: %s %q: empty service name", what, entry)
	case strings.ContainsAny(svc, " \t") || strings.ContainsAny(method, "/ \t"):
		return "", false, fmt.Errorf("interceptor: %s %q: want \"/pkg.Service/Method\", \"/pkg.Service/\" or \"pkg.Service\"", what, entry)
	case !hasMethod || method == "":
		return svc, true, nil
	}
	return "/" + svc + "/" + method, false, nil
}

// serviceOf returns the service of a full method name, "pkg.Svc" of
// "/pkg.Svc/Method", without allocating; ok is false for a malformed name.
func serviceOf(fullMethod string) (string, bool) {
	if !strings.HasPrefix(fullMethod, "/") {
		return "", false
	}
	i := strings.LastIndexByte(fullMethod, '/')
	if i <= 0 {
		return "", false
	}
	return fullMethod[1:i], true
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
	if len(p.services) == 0 {
		return false
	}
	svc, ok := serviceOf(fullMethod)
	if !ok {
		return false
	}
	_, ok = p.services[svc]
	return ok
}
