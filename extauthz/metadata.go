package extauthz

import (
	"time"

	"google.golang.org/protobuf/types/known/structpb"
)

// metadata is the dynamic metadata of a CheckResponse: the decision's
// reason, whether the path was public, and the session of an allowed
// request (see the package documentation for the fields).
func metadata(v verdict) *structpb.Struct {
	sess := v.session
	if sess == nil {
		b := newStructBuilder(2, 0)
		b.str("reason", string(v.reason))
		if v.public {
			b.boolean("public", true)
		}
		return &b.s
	}
	n := 6 // reason, user_id, session_id, amr, expires_at, and one spare
	if sess.Email != nil {
		n += 2
	}
	b := newStructBuilder(n, len(sess.AMR))
	b.str("reason", string(v.reason))
	b.str("user_id", sess.UserID)
	b.str("session_id", sess.SessionID)
	if sess.Email != nil {
		b.str("email", sess.Email.Address)
		b.boolean("email_verified", sess.Email.Verified)
	}
	if sess.Username != "" {
		b.str("username", sess.Username)
	}
	b.list("amr", sess.AMR)
	b.str("expires_at", sess.ExpiresAt.UTC().Format(time.RFC3339))
	if !sess.IdleExpiresAt.IsZero() {
		b.str("idle_expires_at", sess.IdleExpiresAt.UTC().Format(time.RFC3339))
	}
	return &b.s
}

// structBuilder builds a flat structpb.Struct of strings, booleans and
// lists of strings. Check builds one per request, so its messages come
// from a few shared allocations instead of two per value.
type structBuilder struct {
	s     structpb.Struct
	slots []slot
	amr   structpb.ListValue
	kind  structpb.Value_ListValue
}

// slot holds one value and each kind it may take.
type slot struct {
	v structpb.Value
	s structpb.Value_StringValue
	b structpb.Value_BoolValue
}

// newStructBuilder prepares for about n fields and m list items; more
// cost extra allocations, not errors.
func newStructBuilder(n, m int) *structBuilder {
	b := &structBuilder{slots: make([]slot, 0, n+m)}
	b.s.Fields = make(map[string]*structpb.Value, n)
	return b
}

func (b *structBuilder) slot() *slot {
	if len(b.slots) == cap(b.slots) {
		b.slots = make([]slot, 0, 4) // the old slots stay where they are
	}
	b.slots = append(b.slots, slot{})
	return &b.slots[len(b.slots)-1]
}

func (b *structBuilder) strValue(s string) *structpb.Value {
	sl := b.slot()
	sl.s.StringValue = s
	sl.v.Kind = &sl.s
	return &sl.v
}

func (b *structBuilder) str(k, s string) { b.s.Fields[k] = b.strValue(s) }

func (b *structBuilder) boolean(k string, x bool) {
	sl := b.slot()
	sl.b.BoolValue = x
	sl.v.Kind = &sl.b
	b.s.Fields[k] = &sl.v
}

// list sets k to a list of items; a builder holds one list.
func (b *structBuilder) list(k string, items []string) {
	b.amr.Values = make([]*structpb.Value, len(items))
	for i, it := range items {
		b.amr.Values[i] = b.strValue(it)
	}
	b.kind.ListValue = &b.amr
	sl := b.slot()
	sl.v.Kind = &b.kind
	b.s.Fields[k] = &sl.v
}
