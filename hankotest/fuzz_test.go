package hankotest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/hankoauth/hankoauth/hankotest"
)

// FuzzValidateBody sends arbitrary bodies and content types to POST
// /sessions/validate: the fake must never panic, never answer 5xx, and
// always answer JSON.
func FuzzValidateBody(f *testing.F) {
	h, err := hankotest.New()
	if err != nil {
		f.Fatal(err)
	}
	m, err := h.Mint(hankotest.Session{Email: "alice@example.com"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("application/json", []byte(`{"session_token":"`+m.Token+`"}`))
	f.Add("application/json", []byte(`{"session_token": 123}`))
	f.Add("application/json", []byte(`{"session_token": `))
	f.Add("application/xml", []byte(`<r><SessionToken>`+m.Token+`</SessionToken></r>`))
	f.Add("application/x-www-form-urlencoded", []byte(`session_token=a;b`))
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\n"))
	f.Add("text/plain", []byte(`x`))
	// Every recorded request body.
	names, _ := filepath.Glob(filepath.Join(fixtures, "04-*.request.http"))
	for _, name := range names {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if _, body, ok := bytes.Cut(raw, []byte("\r\n\r\n")); ok {
			f.Add("application/json", body)
		}
	}

	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/sessions/validate", bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		h.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q %q: %s", rec.Code, ctype, body, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %q", rec.Body)
		}
	})
}
