package hankotest

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"sync"
)

// DefaultKeyBits is the size of the RSA signing keys by default: 4096
// bits, as real Hanko generates them.
const DefaultKeyBits = 4096

// keyPools hold the signing keys of this process, by size. A 4096-bit key
// takes about 150 ms to generate (more under -race on a busy machine), so
// every fake Hanko of a test binary shares them: its first key is the
// pool's first, and RotateKey gives it the next one. Each key is
// generated once, when a Hanko first needs it.
var (
	keyPoolsMu sync.Mutex
	keyPools   = map[int]*keyPool{}
)

// keyPool is the process's keys of one size, generated on first use.
type keyPool struct {
	bits int
	mu   sync.Mutex
	keys []*lazyKey
}

// lazyKey is one key of a pool, generated once (sync.Once) by whoever
// needs it first; others wait for it.
type lazyKey struct {
	once sync.Once
	key  *rsa.PrivateKey
	err  error
}

// poolKey returns the i-th key of the process's pool of bits-sized keys.
func poolKey(bits, i int) (*rsa.PrivateKey, error) {
	keyPoolsMu.Lock()
	p := keyPools[bits]
	if p == nil {
		p = &keyPool{bits: bits}
		keyPools[bits] = p
	}
	keyPoolsMu.Unlock()

	p.mu.Lock()
	for len(p.keys) <= i {
		p.keys = append(p.keys, new(lazyKey))
	}
	k := p.keys[i]
	p.mu.Unlock()

	k.once.Do(func() {
		k.key, k.err = rsa.GenerateKey(rand.Reader, bits)
		if k.err != nil {
			k.err = fmt.Errorf("hankotest: generating a %d-bit RSA key: %w", bits, k.err)
		}
	})
	return k.key, k.err
}
