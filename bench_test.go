package hankoauth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// The benchmarks come in pairs: a floor (the least work the operation
// could possibly do) and the real thing, in the same run, so that their
// ratio means something on a noisy machine. .ci/bench prints the ratios.

var sink any

// BenchmarkCachedValidate: Validate of a cached session vs. a bare
// SHA-256 of the token and a map lookup.
func BenchmarkCachedValidate(b *testing.B) {
	h := newRecordedHanko(b)
	v := newHybrid(b, h, newClock(fixtureClock), func(c *Config) { c.RevalidateAfter = time.Hour })
	token := fixtureToken(b, "03-token-valid.jwt")
	ctx := context.Background()
	if _, err := v.Validate(ctx, token); err != nil {
		b.Fatal(err)
	}
	b.Run("floor", func(b *testing.B) {
		m := map[[32]byte]*Session{sha256.Sum256([]byte(token)): {}}
		raw := unsafe.Slice(unsafe.StringData(token), len(token)) // as Validate hashes it
		b.ReportAllocs()
		for b.Loop() {
			sink = m[sha256.Sum256(raw)]
		}
	})
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s, err := v.Validate(ctx, token)
			if err != nil {
				b.Fatal(err)
			}
			sink = s
		}
	})
	b.Run("cached-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Validate(ctx, token); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

var (
	rsa4096Once sync.Once
	rsa4096     signer
)

// BenchmarkLocalVerify: cold local verification of an RS256 token signed
// with an RSA-4096 key (Hanko's), cache off, vs. bare rsa.VerifyPKCS1v15
// (with the SHA-256 of the signing input) on the same token.
func BenchmarkLocalVerify(b *testing.B) {
	rsa4096Once.Do(func() { rsa4096 = newRSASigner(b, 4096) })
	s := rsa4096
	token := s.sign(b, map[string]any{
		"sub": "0227d571-009a-4cdb-9378-caeaefd071ec", "session_id": "7a14fa80-6328-4fe0-b9d5-00d0bd5861cb",
		"aud": []string{"localhost"}, "iat": fixtureClock.Unix(), "exp": fixtureClock.Add(12 * time.Hour).Unix(),
		"email": map[string]any{"address": "alice@example.com", "is_primary": true, "is_verified": true}, "amr": []string{"pwd"},
	})
	ks := newKeyServer(b, jwksOf(b, s))
	v := newLocal(b, ks, func(c *Config) { c.CacheSize = -1 })
	ctx := context.Background()
	b.Run("floor", func(b *testing.B) {
		i := strings.LastIndexByte(token, '.')
		pub := s.pub.(*rsa.PublicKey)
		b.ReportAllocs()
		for b.Loop() {
			sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
			if err != nil {
				b.Fatal(err)
			}
			digest := sha256.Sum256([]byte(token[:i]))
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("validate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s, err := v.Validate(ctx, token)
			if err != nil {
				b.Fatal(err)
			}
			sink = s
		}
	})
}
