package extauthz

import (
	"fmt"
	"strings"
	"sync"
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

// routeKey is the values of the known context extensions: a route's
// requirement depends on nothing else.
type routeKey struct {
	require, amr, maxAge          string
	hasRequire, hasAMR, hasMaxAge bool
}

// routeEntry is a parsed routeKey.
type routeEntry struct {
	req hankoauth.Requirement
	err error
}

// maxRoutes bounds the route cache: a proxy has few distinct routes.
const maxRoutes = 1024

// routeCache remembers the requirement of each combination of context
// extensions, so that a cached Check does not parse them again.
type routeCache struct {
	mu sync.RWMutex
	m  map[routeKey]routeEntry
}

// requirement returns the requirement of ext (see routeRequirement).
func (c *routeCache) requirement(ext map[string]string, now func() time.Time) (hankoauth.Requirement, error) {
	if len(ext) == 0 {
		return nil, nil
	}
	var k routeKey
	for key, v := range ext {
		switch key {
		case ExtRequire:
			k.require, k.hasRequire = v, true
		case ExtAMR:
			k.amr, k.hasAMR = v, true
		case ExtMaxAge:
			k.maxAge, k.hasMaxAge = v, true
		default:
			if strings.HasPrefix(key, extPrefix) {
				return routeRequirement(ext, now) // the error, not cached
			}
		}
	}
	if !k.hasRequire && !k.hasAMR && !k.hasMaxAge {
		return nil, nil
	}
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return e.req, e.err
	}
	e.req, e.err = routeRequirement(ext, now)
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[routeKey]routeEntry)
	}
	if len(c.m) < maxRoutes {
		c.m[k] = e
	}
	c.mu.Unlock()
	return e.req, e.err
}
