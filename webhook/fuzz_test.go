package webhook_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzHandler: whatever the body, the receiver answers without panicking,
// never with a 2xx for a body it cannot verify... except the recorded
// deliveries' own bytes, and revokes nothing unless the token verified.
func FuzzHandler(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join(recorded, "*.body.json"))
	for _, n := range names[:3] {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"token":"a.b.c","event":"session.delete.explicit.logout"}`))
	f.Add([]byte(`{"token":"","event":""}`))
	f.Add([]byte(`[]`))
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		w := fx.post(t, body, "application/json")
		if w.Code == http.StatusNoContent && !strings.Contains(string(body), "eyJ") {
			t.Fatalf("%q accepted", body)
		}
		if w.Code != http.StatusNoContent && fx.v.Stats().Revocations != 0 && !strings.Contains(string(body), "eyJ") {
			t.Fatalf("%q revoked something", body)
		}
	})
}
