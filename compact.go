package hankoauth

import (
	"strings"
	"unsafe"
)

// compact points the session's strings into raw, the claims JSON the
// session keeps anyway (for Claims), wherever raw holds them verbatim: a
// cached session then costs one copy of its claims, not two. raw must
// never be written to afterwards; the validator only ever reads it.
func (s *Session) compact(raw []byte) {
	if len(raw) == 0 {
		return
	}
	js := unsafe.String(unsafe.SliceData(raw), len(raw))
	in := func(x string) string {
		if x == "" {
			return x
		}
		for off := 0; ; {
			i := strings.Index(js[off:], x)
			if i < 0 {
				return x
			}
			i += off
			if i > 0 && js[i-1] == '"' && i+len(x) < len(js) && js[i+len(x)] == '"' {
				return js[i : i+len(x)]
			}
			off = i + 1
		}
	}
	s.UserID = in(s.UserID)
	s.SessionID = in(s.SessionID)
	s.Username = in(s.Username)
	s.Issuer = in(s.Issuer)
	if s.Email != nil {
		s.Email.Address = in(s.Email.Address)
	}
	for i := range s.Audience {
		s.Audience[i] = in(s.Audience[i])
	}
	for i := range s.AMR {
		s.AMR[i] = in(s.AMR[i])
	}
}
