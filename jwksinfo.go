package hankoauth

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// KeyInfo describes one key of a JWKS document as the validator judges it.
type KeyInfo struct {
	KeyID string // "kid"
	Type  string // "kty": "RSA", "EC", "oct", ...
	Alg   string // the declared "alg", empty when absent
	Use   string // "use", empty when absent
	Bits  int    // RSA modulus or EC curve size; 0 for other keys
	// Problem, when not empty, says why the validator does not use the
	// key (too weak, symmetric, duplicate kid, ...).
	Problem string
}

// InspectJWKS reads a JWKS document with the validator's rules and
// describes each of its keys, in document order. The validator uses
// exactly the keys without a Problem. It returns an error only for a
// document that is not a JWKS at all.
func InspectJWKS(data []byte) ([]KeyInfo, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	if doc.Keys == nil {
		return nil, fmt.Errorf("jwks: no \"keys\" member")
	}
	infos := make([]KeyInfo, 0, len(doc.Keys))
	byKid := make(map[string][]int)
	for _, raw := range doc.Keys {
		var head struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
			Alg string `json:"alg"`
			Use string `json:"use"`
		}
		_ = json.Unmarshal(raw, &head)
		info := KeyInfo{KeyID: head.Kid, Type: head.Kty, Alg: head.Alg, Use: head.Use}
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			info.Problem = err.Error()
		} else {
			switch k := jwk.Key.(type) {
			case *rsa.PublicKey:
				info.Bits = k.N.BitLen()
			case *ecdsa.PublicKey:
				info.Bits = k.Curve.Params().BitSize
			}
			if _, err := usableKey(jwk); err != nil {
				info.Problem = err.Error()
			}
		}
		if info.Problem == "" {
			byKid[info.KeyID] = append(byKid[info.KeyID], len(infos))
		}
		infos = append(infos, info)
	}
	for _, idx := range byKid {
		if len(idx) > 1 {
			for _, i := range idx {
				infos[i].Problem = "duplicate kid: the validator trusts neither key"
			}
		}
	}
	return infos, nil
}
