package hankoauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// maxJWKSBytes bounds the JWKS document the validator reads.
const maxJWKSBytes = 1 << 20

// minRSABits is the smallest RSA modulus the validator accepts.
const minRSABits = 2048

// verifyKey is one usable public key of the JWKS.
type verifyKey struct {
	alg jose.SignatureAlgorithm // the only algorithm this key verifies
	key any                     // *rsa.PublicKey or *ecdsa.PublicKey
}

// keySet is an immutable snapshot of Hanko's JWKS.
type keySet struct {
	keys      map[string]verifyKey // by kid
	fetchedAt time.Time
	maxAge    time.Duration // from Cache-Control, 0 when absent
}

// parseJWKS reads a JWKS document and keeps the keys that can verify
// session tokens: RSA of at least 2048 bits (RS256, or the RSA algorithm
// the key declares) and ECDSA P-256/384/521 (the ES algorithm of its
// curve). Keys without a kid, for encryption, symmetric or weak keys are
// skipped; the reasons are returned for the log.
func parseJWKS(data []byte) (map[string]verifyKey, []string, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("jwks: %w", err)
	}
	keys := make(map[string]verifyKey, len(doc.Keys))
	var skipped []string
	for i, raw := range doc.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d: %v", i, err))
			continue
		}
		k, err := usableKey(jwk)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("key %q: %v", jwk.KeyID, err))
			continue
		}
		if _, dup := keys[jwk.KeyID]; dup {
			skipped = append(skipped, fmt.Sprintf("key %q: duplicate kid", jwk.KeyID))
			delete(keys, jwk.KeyID) // ambiguous: trust neither
			continue
		}
		keys[jwk.KeyID] = k
	}
	return keys, skipped, nil
}

func usableKey(jwk jose.JSONWebKey) (verifyKey, error) {
	if jwk.KeyID == "" {
		return verifyKey{}, errors.New("no kid")
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return verifyKey{}, fmt.Errorf("use %q is not sig", jwk.Use)
	}
	alg := jose.SignatureAlgorithm(jwk.Algorithm)
	switch pub := jwk.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return verifyKey{}, fmt.Errorf("RSA key of %d bits is too weak", pub.N.BitLen())
		}
		switch alg {
		case "":
			alg = jose.RS256
		case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
		default:
			return verifyKey{}, fmt.Errorf("alg %q does not fit an RSA key", alg)
		}
		return verifyKey{alg: alg, key: pub}, nil
	case *ecdsa.PublicKey:
		want := map[elliptic.Curve]jose.SignatureAlgorithm{
			elliptic.P256(): jose.ES256, elliptic.P384(): jose.ES384, elliptic.P521(): jose.ES512,
		}[pub.Curve]
		if want == "" || (alg != "" && alg != want) {
			return verifyKey{}, fmt.Errorf("alg %q does not fit the EC key", alg)
		}
		return verifyKey{alg: want, key: pub}, nil
	}
	return verifyKey{}, fmt.Errorf("key type %T is not accepted", jwk.Key)
}

// maxAge reads the max-age directive of a Cache-Control header.
func maxAge(h string) time.Duration {
	for d := range strings.SplitSeq(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(d), "=")
		if !ok || !strings.EqualFold(k, "max-age") {
			continue
		}
		n, err := strconv.Atoi(strings.Trim(v, `"`))
		if err != nil || n < 0 {
			return 0
		}
		n = min(n, 365*24*3600) // no overflow; the caller clamps further
		return time.Duration(n) * time.Second
	}
	return 0
}

// jwks keeps Hanko's key set fresh: it loads it at start, refreshes it in
// the background as Cache-Control says, and on demand when a token names an
// unknown kid, at most once per KeyRefreshMin. The last good set stays in use
// while fetches fail.
type jwks struct {
	url    string
	client *http.Client
	cfg    *Config
	ctx    context.Context // ends at Close: fetches under way are cancelled
	wg     sync.WaitGroup  // fetches under way, waited for at Close
	loaded func()          // called after every successful fetch
	failed func(error)     // called after every failed fetch (not at Close)

	current atomic.Pointer[keySet] // nil until the first successful fetch

	mu           sync.Mutex // guards the fields below, and wg.Add against close's Wait
	inflight     *fetchCall // the fetch under way, nil when none
	lastOnDemand time.Time  // when an unknown kid last started a fetch
	closed       bool       // set by close: no new fetches

	fetches atomic.Int64 // fetches started, for tests
}

// fetchCall is one fetch that several callers may wait for.
type fetchCall struct {
	done chan struct{}
	err  error // set before done is closed
}

// errRefreshLimited says an unknown kid did not start a fetch because one
// ran too recently.
var errRefreshLimited = errors.New("jwks refresh rate-limited")

// lookup returns the key for kid from the current set.
func (j *jwks) lookup(kid string) (verifyKey, bool) {
	ks := j.current.Load()
	if ks == nil {
		return verifyKey{}, false
	}
	k, ok := ks.keys[kid]
	return k, ok
}

// refresh starts a fetch, or joins the one under way, and waits for it or
// for ctx. With onDemand set (an unknown kid) it starts no fetch if one
// was started on demand less than KeyRefreshMin ago.
func (j *jwks) refresh(ctx context.Context, onDemand bool) error {
	j.mu.Lock()
	c := j.inflight
	if c == nil {
		if onDemand {
			now := j.cfg.Now()
			if !j.lastOnDemand.IsZero() && now.Sub(j.lastOnDemand) < j.cfg.KeyRefreshMin {
				j.mu.Unlock()
				return errRefreshLimited
			}
			j.lastOnDemand = now
		}
		if j.closed || j.ctx.Err() != nil {
			j.mu.Unlock()
			return errClosed // no new fetches
		}
		c = &fetchCall{done: make(chan struct{})}
		j.inflight = c
		j.wg.Add(1)
		go j.run(c)
	}
	j.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run performs the fetch for c, detached from any caller's context.
func (j *jwks) run(c *fetchCall) {
	defer j.wg.Done()
	ctx, cancel := context.WithTimeout(j.ctx, j.cfg.RequestTimeout)
	defer cancel()
	ks, err := j.fetch(ctx)
	if err == nil {
		j.current.Store(ks)
	}
	n := 0
	if cur := j.current.Load(); cur != nil {
		n = len(cur.keys)
	}
	outcome := "ok"
	switch {
	case err != nil && j.ctx.Err() != nil:
		// Cancelled by Close: not a failure of Hanko's, nothing to report.
		outcome = ""
	case err != nil:
		outcome = "error"
		if n > 0 {
			j.cfg.Logger.Warn("hankoauth: JWKS fetch failed; keeping the last good key set", "url", j.url, "keys", n, "error", err)
		} else {
			j.cfg.Logger.Warn("hankoauth: JWKS fetch failed; no key set loaded yet, tokens cannot be checked", "url", j.url, "error", err)
		}
		if j.failed != nil {
			j.failed(err)
		}
	default:
		j.cfg.Logger.Debug("hankoauth: JWKS fetched", "url", j.url, "keys", n, "max_age", ks.maxAge)
		if j.loaded != nil {
			j.loaded()
		}
	}
	if h := j.cfg.Hooks.KeysRefreshed; h != nil && outcome != "" {
		h(outcome, n)
	}
	j.mu.Lock()
	c.err = err
	j.inflight = nil
	j.mu.Unlock()
	close(c.done)
}

func (j *jwks) fetch(ctx context.Context) (*keySet, error) {
	j.fetches.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxJWKSBytes))
		return nil, fmt.Errorf("jwks: %s answered %s", j.url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwks: reading: %w", err)
	}
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("jwks: document larger than %d bytes", maxJWKSBytes)
	}
	keys, skipped, err := parseJWKS(data)
	if err != nil {
		return nil, err
	}
	for _, s := range skipped {
		j.cfg.Logger.Warn("hankoauth: JWKS key ignored", "reason", s)
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks: no usable signing key")
	}
	return &keySet{keys: keys, fetchedAt: j.cfg.Now(), maxAge: maxAge(resp.Header.Get("Cache-Control"))}, nil
}

// close stops new fetches and waits for the one under way.
func (j *jwks) close() {
	j.mu.Lock()
	j.closed = true // after this, no wg.Add
	j.mu.Unlock()
	j.wg.Wait()
}

// loop keeps the key set loaded until ctx ends: it retries a failed fetch
// with backoff (retryLoop: up to startBackoffCap while no key set is
// loaded, so that readiness follows Hanko's return within seconds, then
// up to KeyRefreshMin), and otherwise refreshes after the max-age Hanko
// sent (clamped to [KeyRefreshMin, 24 h], 10 min when absent).
func (j *jwks) loop(ctx context.Context) {
	retryLoop(ctx, func() (time.Duration, error) {
		if err := j.refresh(ctx, false); err != nil {
			return 0, err
		}
		if ks := j.current.Load(); ks != nil && ks.maxAge > 0 {
			return min(max(ks.maxAge, j.cfg.KeyRefreshMin), 24*time.Hour), nil
		}
		return 10 * time.Minute, nil
	}, func() time.Duration {
		if j.current.Load() == nil {
			return startBackoffCap
		}
		return max(j.cfg.KeyRefreshMin, time.Second)
	})
}

// The backoff of retryLoop: it starts at minBackoff and doubles up to the
// cap; startBackoffCap is the cap while the validator is not ready yet.
const (
	minBackoff      = 250 * time.Millisecond
	startBackoffCap = 2 * time.Second
	stopRetrying    = time.Duration(-1)
)

// errClosed is the error of work refused after Close.
const errClosed = constError("validator closed")

// retryLoop is the one retry loop of the background work (the JWKS
// refresh, the remote-mode probe): it calls attempt until ctx ends. After
// a success it waits what attempt returned (stopRetrying ends the loop);
// after a failure it backs off, from minBackoff doubling up to
// backoffCap().
func retryLoop(ctx context.Context, attempt func() (time.Duration, error), backoffCap func() time.Duration) {
	backoff := minBackoff
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for ctx.Err() == nil {
		wait, err := attempt()
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			wait = min(backoff, backoffCap())
			backoff = min(backoff*2, backoffCap())
		case wait == stopRetrying:
			return
		default:
			backoff = minBackoff
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
