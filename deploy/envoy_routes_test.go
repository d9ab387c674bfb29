package deploy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// perRouteIndent is the indentation of an ExtAuthzPerRoute's fields in
// envoy.yaml.
const perRouteIndent = "                              "

// hankoExtensions are the per-route context_extensions hanko-authz reads
// (package extauthz), each with a check of its value. hanko-authz denies
// every request of a route that carries another "hanko." key.
var hankoExtensions = map[string]func(string) error{
	"hanko.require": func(v string) error {
		for item := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(item) != "verified_email" {
				return fmt.Errorf("unknown requirement %q", item)
			}
		}
		return nil
	},
	"hanko.amr": func(v string) error {
		for item := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(item) == "" {
				return errors.New("empty authentication method")
			}
		}
		return nil
	},
	"hanko.max_age": func(v string) error {
		d, err := time.ParseDuration(v)
		if err == nil && d <= 0 {
			err = errors.New("not positive")
		}
		return err
	},
}

// checkRouteRequirements checks the hanko.* context_extensions of every
// route, and that the sensitive /account/ route carries all three.
func checkRouteRequirements(b *bootstrapv3.Bootstrap) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	hcm, err := unpack(b.GetStaticResources().GetListeners()[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig(), &hcmv3.HttpConnectionManager{})
	if err != nil {
		return err
	}
	found := false
	for _, vh := range hcm.GetRouteConfig().GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			a := r.GetTypedPerFilterConfig()["envoy.filters.http.ext_authz"]
			if a == nil {
				continue
			}
			per, err := unpack(a, &extauthzv3.ExtAuthzPerRoute{})
			if err != nil {
				fail("route %s: %v", r.GetMatch(), err)
				continue
			}
			ext := per.GetCheckSettings().GetContextExtensions()
			for k, v := range ext {
				if !strings.HasPrefix(k, "hanko.") {
					continue
				}
				check, ok := hankoExtensions[k]
				if !ok {
					fail("route %s: unknown context extension %q (hanko-authz denies the route)", r.GetMatch().GetPrefix(), k)
					continue
				}
				if err := check(v); err != nil {
					fail("route %s: %s: %q: %v", r.GetMatch().GetPrefix(), k, v, err)
				}
			}
			if r.GetMatch().GetPrefix() == "/account/" {
				found = true
				for k := range hankoExtensions {
					if _, ok := ext[k]; !ok {
						fail("route /account/ lacks %s", k)
					}
				}
			}
		}
	}
	if !found {
		fail("missing the /account/ route with per-route requirements")
	}
	return errors.Join(errs...)
}

func TestEnvoyRouteRequirements(t *testing.T) {
	src := readFile(t, envoyConfig)
	b, err := loadEnvoy(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkRouteRequirements(b); err != nil {
		t.Error(err)
	}
	for _, tc := range []struct{ name, old, new string }{
		{"typo in a key", "hanko.require: verified_email", "hanko.requires: verified_email"},
		{"unknown requirement", "hanko.require: verified_email", "hanko.require: admin"},
		{"bad max_age", "hanko.max_age: 5m", "hanko.max_age: 5 minutes"},
		{"no max_age", "hanko.max_age: 5m", "other.max_age: 5m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := loadEnvoy(mutate(t, src, tc.old, tc.new))
			if err != nil {
				t.Fatalf("mutated config should still load: %v", err)
			}
			if err := checkRouteRequirements(b); err == nil {
				t.Error("mutated config passed")
			} else {
				t.Log(err)
			}
		})
	}
}
