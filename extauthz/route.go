package extauthz

import (
	"fmt"
	"strings"
	"time"

	"github.com/hankoauth/hankoauth"
)

// The context extensions a route may set for hanko-authz, with Envoy's
// ExtAuthzPerRoute.check_settings.context_extensions. They add to the
// server's own requirements.
const (
	// ExtRequire lists named requirements, comma-separated:
	// "verified_email".
	ExtRequire = "hanko.require"
	// ExtAMR lists authentication methods, comma-separated: the login must
	// have used one of them ("passkey", "pwd,otp").
	ExtAMR = "hanko.amr"
	// ExtMaxAge is a Go duration ("5m"): the login must be at most that old
	// (hankoauth.RequireFreshLogin), else REAUTHENTICATION_REQUIRED.
	ExtMaxAge = "hanko.max_age"
)

// extPrefix marks the context extensions that are hanko-authz's: any other
// key under it is a mistake, and denies the request.
const extPrefix = "hanko."

// routeRequirement reads the hanko.* context extensions of a CheckRequest
// into the requirement they describe: nil when there are none. An unknown
// key under hanko., or a bad value, is an error: the route is
// misconfigured, and must not be opened by a typo.
func routeRequirement(ext map[string]string, now func() time.Time) (hankoauth.Requirement, error) {
	for k := range ext {
		if strings.HasPrefix(k, extPrefix) && k != ExtRequire && k != ExtAMR && k != ExtMaxAge {
			return nil, fmt.Errorf("unknown context extension %q (known: %s, %s, %s)", k, ExtRequire, ExtAMR, ExtMaxAge)
		}
	}
	// A fixed order, so that the reason of a denial does not vary: what a
	// new login cannot fix (an unverified email) comes first.
	var reqs []hankoauth.Requirement
	if v, ok := ext[ExtRequire]; ok {
		items := splitList(v)
		if len(items) == 0 {
			return nil, fmt.Errorf("context extension %s is empty", ExtRequire)
		}
		for _, item := range items {
			switch item {
			case "verified_email":
				reqs = append(reqs, hankoauth.RequireVerifiedEmail())
			default:
				return nil, fmt.Errorf("context extension %s: unknown requirement %q (want verified_email)", ExtRequire, item)
			}
		}
	}
	if v, ok := ext[ExtAMR]; ok {
		methods := splitList(v)
		if len(methods) == 0 {
			return nil, fmt.Errorf("context extension %s is empty", ExtAMR)
		}
		reqs = append(reqs, hankoauth.RequireAMR(methods...))
	}
	if v, ok := ext[ExtMaxAge]; ok {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("context extension %s: %q is not a positive duration such as 5m", ExtMaxAge, v)
		}
		reqs = append(reqs, hankoauth.RequireFreshLogin(d, now))
	}
	switch len(reqs) {
	case 0:
		return nil, nil
	case 1:
		return reqs[0], nil
	}
	return hankoauth.RequireAll(reqs...), nil
}

// splitList splits a comma-separated value, dropping blanks.
func splitList(v string) []string {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
