package hankotest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// newUUID returns a random (version 4) UUID in canonical form.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	var buf [36]byte
	hex.Encode(buf[0:8], b[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], b[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], b[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], b[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], b[10:])
	return string(buf[:])
}

// nilUUID is what Hanko reports for an absent sub or session_id.
const nilUUID = "00000000-0000-0000-0000-000000000000"

// parseUUID accepts the forms Hanko's UUID library (gofrs/uuid) accepts —
// canonical, 32 hex digits, braced, and urn:uuid: — and returns the
// canonical lower-case form. Its error messages follow that library's.
func parseUUID(s string) (string, error) {
	in := s
	switch len(s) {
	case 32, 36:
	case 34, 38:
		if s[0] != '{' || s[len(s)-1] != '}' {
			return "", fmt.Errorf("uuid: incorrect UUID format in string %q", in)
		}
		s = s[1 : len(s)-1]
	case 41, 45:
		if !strings.EqualFold(s[:9], "urn:uuid:") {
			return "", fmt.Errorf("uuid: incorrect UUID format in string %q", in)
		}
		s = s[9:]
	default:
		return "", fmt.Errorf("uuid: incorrect UUID length %d in string %q", len(s), in)
	}
	if len(s) == 36 {
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return "", fmt.Errorf("uuid: incorrect UUID format in string %q", in)
		}
		s = s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	}
	var b [16]byte
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return "", fmt.Errorf("uuid: incorrect UUID format in string %q", in)
	}
	return formatUUID(b), nil
}
