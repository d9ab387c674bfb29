package hankoauth

import (
	"encoding/json"
	"testing"
	"unsafe"
)

func TestSessionCompact(t *testing.T) {
	raw := []byte(`{"sub":"u-1","session_id":"s-1","username":"ann","iss":"https://h","email":{"address":"a@b.c"},"aud":["x","y"],"amr":["pwd"],"note":"esc\"aped"}`)
	s := &Session{
		UserID: string([]byte("u-1")), SessionID: string([]byte("s-1")), Username: string([]byte("ann")),
		Issuer: "https://h", Email: &Email{Address: "a@b.c"}, Audience: []string{"x", "y"}, AMR: []string{"pwd"},
	}
	s.Username = `esc"aped` // escaped in raw, so not there verbatim: stays as it is
	s.compact(raw)
	lo, hi := uintptr(unsafe.Pointer(&raw[0])), uintptr(unsafe.Pointer(&raw[0]))+uintptr(len(raw))
	inRaw := func(x string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(x)))
		return p >= lo && p < hi
	}
	for name, x := range map[string]string{"UserID": s.UserID, "SessionID": s.SessionID, "Issuer": s.Issuer, "Email": s.Email.Address, "aud0": s.Audience[0], "aud1": s.Audience[1], "AMR": s.AMR[0]} {
		if !inRaw(x) {
			t.Errorf("%s = %q not shared with the claims", name, x)
		}
	}
	if s.UserID != "u-1" || s.SessionID != "s-1" || s.Email.Address != "a@b.c" || s.Audience[1] != "y" || s.AMR[0] != "pwd" {
		t.Fatalf("values changed: %+v", s)
	}
	if s.Username != `esc"aped` || inRaw(s.Username) {
		t.Fatalf("a string not verbatim in the claims: %q", s.Username)
	}
	// "s-1" occurs first inside no quotes: only a quoted occurrence counts.
	raw2 := []byte(`{"x":"as-12","sub":"s-1"}`)
	s2 := &Session{UserID: "s-1"}
	s2.compact(raw2)
	if got := uintptr(unsafe.Pointer(unsafe.StringData(s2.UserID))) - uintptr(unsafe.Pointer(&raw2[0])); got != 20 {
		t.Fatalf("UserID points at offset %d of the claims, want 20", got)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil { // raw itself untouched
		t.Fatal(err)
	}
}
