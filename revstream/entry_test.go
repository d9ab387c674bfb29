package revstream

import (
	"testing"
	"time"
)

func TestParseEntry(t *testing.T) {
	at := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	ns := "1795831200000000000"
	for _, tc := range []struct {
		name string
		in   map[string]any
		ok   bool
		sid  string
		uid  string
	}{
		{"session", map[string]any{"k": "s", "id": "a", "at": ns}, true, "a", ""},
		{"user", map[string]any{"k": "u", "id": "b", "at": ns}, true, "", "b"},
		{"unknown kind", map[string]any{"k": "x", "id": "a", "at": ns}, false, "", ""},
		{"no id", map[string]any{"k": "s", "at": ns}, false, "", ""},
		{"bad time", map[string]any{"k": "s", "id": "a", "at": "soon"}, false, "", ""},
		{"long id", map[string]any{"k": "s", "id": string(make([]byte, 300)), "at": ns}, false, "", ""},
		{"not strings", map[string]any{"k": 1, "id": 2, "at": 3}, false, "", ""},
	} {
		r, err := parseEntry(tc.in)
		if (err == nil) != tc.ok || r.SessionID != tc.sid || r.UserID != tc.uid || (tc.ok && !r.At.Equal(at)) {
			t.Errorf("%s: %+v, %v", tc.name, r, err)
		}
	}
}

func TestIDLess(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		less bool
	}{
		{"1-0", "2-0", true}, {"2-0", "1-5", false}, {"5-1", "5-2", true}, {"5-2", "5-2", false}, {"10-0", "9-9", false},
	} {
		if idLess(tc.a, tc.b) != tc.less {
			t.Errorf("idLess(%s, %s) != %v", tc.a, tc.b, tc.less)
		}
	}
}

func FuzzParseEntry(f *testing.F) {
	f.Add("s", "5b35d505-63a7-42c3-8458-709718aaa3bd", "1795831200000000000")
	f.Add("u", "x", "-1")
	f.Fuzz(func(t *testing.T, k, id, at string) {
		r, err := parseEntry(map[string]any{"k": k, "id": id, "at": at})
		if err == nil && (r.SessionID == "") == (r.UserID == "") {
			t.Fatalf("%+v: not exactly one id", r)
		}
	})
}
