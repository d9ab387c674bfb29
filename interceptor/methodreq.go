package interceptor

import (
	"context"
	"errors"

	"github.com/hankoauth/hankoauth"
)

// methodRequirements are the requirements of particular methods and
// services, applied besides the global one. Built while the options are
// applied, read-only afterwards.
type methodRequirements struct {
	methods  map[string]hankoauth.Requirement // by full method name
	services map[string]hankoauth.Requirement // by service name
	funcs    []func(fullMethod string) hankoauth.Requirement
}

func (m *methodRequirements) add(entry string, r hankoauth.Requirement) error {
	if r == nil {
		return errors.New("interceptor: WithMethodRequirement(" + entry + ", nil)")
	}
	key, isService, err := parseMethodEntry("method requirement", entry)
	if err != nil {
		return err
	}
	target := &m.methods
	if isService {
		target = &m.services
	}
	if *target == nil {
		*target = make(map[string]hankoauth.Requirement)
	}
	if prev := (*target)[key]; prev != nil {
		r = hankoauth.RequireAll(prev, r)
	}
	(*target)[key] = r
	return nil
}

// check applies the requirements of fullMethod to s: its service's, then
// its own, then those of the functions. It does not allocate when none
// apply.
func (m *methodRequirements) check(ctx context.Context, fullMethod string, s *hankoauth.Session) error {
	if len(m.services) > 0 {
		if svc, ok := serviceOf(fullMethod); ok {
			if err := m.services[svc].Check(ctx, s); err != nil {
				return err
			}
		}
	}
	if err := m.methods[fullMethod].Check(ctx, s); err != nil {
		return err
	}
	for _, f := range m.funcs {
		if err := f(fullMethod).Check(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// WithMethodRequirement applies r to the calls of one method or service,
// besides the requirements of WithRequirement: a call must meet the global
// requirement, its service's and its method's. The name is a full method,
// "/pkg.Service/Method", or a whole service, "/pkg.Service/" or
// "pkg.Service", as in WithPublicMethods. Several for the same name
// compose. A public method needs no session, so no requirement applies to
// it. A malformed name or a nil r makes New fail.
//
// For example, a fresh login for deleting the account:
//
//	interceptor.WithMethodRequirement("/acme.v1.Accounts/Delete",
//		hankoauth.RequireFreshLogin(5*time.Minute, v.Now))
func WithMethodRequirement(methodOrService string, r hankoauth.Requirement) Option {
	return func(o *options) {
		if err := o.methodReqs.add(methodOrService, r); err != nil {
			o.errs = append(o.errs, err)
		}
	}
}

// WithRequirementFunc applies the requirement f returns for a call's full
// method name ("/pkg.Service/Method"), besides the others; nil means none.
// f runs on every authenticated call: keep it fast (a map or a prefix
// match). A nil f makes New fail.
func WithRequirementFunc(f func(fullMethod string) hankoauth.Requirement) Option {
	return func(o *options) {
		if f == nil {
			o.errs = append(o.errs, errors.New("interceptor: WithRequirementFunc(nil)"))
			return
		}
		o.methodReqs.funcs = append(o.methodReqs.funcs, f)
	}
}
