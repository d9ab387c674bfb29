package hankoauth_test

import (
	"testing"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/hankotest"
)

func TestInspectJWKS(t *testing.T) {
	h, err := hankotest.New()
	if err != nil {
		t.Fatal(err)
	}
	good, err := hankoauth.InspectJWKS(h.JWKS())
	if err != nil || len(good) != 1 || good[0].Problem != "" || good[0].Bits < 2048 || good[0].Type != "RSA" || good[0].Alg != "RS256" || good[0].KeyID != h.KeyID() {
		t.Fatalf("good set: %+v, %v", good, err)
	}
	for _, tc := range []struct {
		name    string
		fault   hankotest.KeyFault
		n       int
		problem []bool // per key
	}{
		{"weak", hankotest.WeakKey, 2, []bool{false, true}},
		{"duplicate", hankotest.DuplicateKid, 2, []bool{true, true}},
		{"symmetric", hankotest.SymmetricKey, 2, []bool{false, true}},
		{"none", hankotest.NoKeys, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := h.BadJWKS(tc.fault)
			if err != nil {
				t.Fatal(err)
			}
			keys, err := hankoauth.InspectJWKS([]byte(f.Body))
			if err != nil || len(keys) != tc.n {
				t.Fatalf("%+v, %v", keys, err)
			}
			for i, k := range keys {
				if (k.Problem != "") != tc.problem[i] {
					t.Errorf("key %d: %+v", i, k)
				}
			}
		})
	}
	if _, err := hankoauth.InspectJWKS([]byte(`{"kids":[]}`)); err == nil {
		t.Error("a document without keys passed")
	}
}
