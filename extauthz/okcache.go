package extauthz

import (
	"sync/atomic"
	"unsafe"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/hankoauth/hankoauth"
)

// okParts are the parts of the CheckResponse allowing a request of one
// session that depend on the session only: the identity headers, the
// headers to remove and the dynamic metadata. They are shared by the
// responses of that session's requests and never modified (gRPC only
// reads a response to send it).
type okParts struct {
	sess    *hankoauth.Session
	headers []*corev3.HeaderValueOption
	remove  []string
	meta    *structpb.Struct
}

// okCache remembers the okParts of recently allowed sessions, so that a
// cached session's Check does not build the same messages again: a
// direct-mapped table keyed by the *Session the validator's cache shares
// between the session's requests (a new one after each revalidation). A
// collision replaces the slot's entry. Lock-free, bounded, no goroutine.
type okCache [1 << okCacheBits]atomic.Pointer[okParts]

const okCacheBits = 10

// parts returns the okParts of v's session, from the table or built.
func (c *okCache) parts(s *Server, v verdict) *okParts {
	i := uint64(uintptr(unsafe.Pointer(v.session))) * 0x9E3779B97F4A7C15 >> (64 - okCacheBits)
	if p := c[i].Load(); p != nil && p.sess == v.session {
		return p
	}
	h, rm := s.identityHeaders(v.session)
	p := &okParts{sess: v.session, headers: headerOptions(h), remove: rm, meta: metadata(v)}
	c[i].Store(p)
	return p
}
