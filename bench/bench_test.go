package main

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The ratio to the floor is the median of the per-round ratios, each
// against the floor of the same round and level: a slow round moves both.
func TestAggregatePairsRounds(t *testing.T) {
	mk := func(name string, floor bool, round int, rps float64, cpu float64) sample {
		return sample{Group: "g", Name: name, Floor: floor, Round: round, C: 4, RPS: rps, N: 1000, P99: time.Millisecond, ServerCPU: cpu}
	}
	samples := []sample{
		mk("floor", true, 0, 1000, 100), mk("x", false, 0, 800, 120),
		mk("floor", true, 1, 500, 200), mk("x", false, 1, 400, 240), // a slow round: same ratios
		mk("floor", true, 2, 1000, 100), mk("x", false, 2, 900, 110),
	}
	rows := aggregate(samples)
	if len(rows) != 2 || rows[0].Name != "floor" || rows[1].Name != "x" {
		t.Fatalf("rows %+v", rows)
	}
	x := rows[1]
	if x.RPSx != 0.8 || x.CPUx != 1.2 {
		t.Fatalf("paired medians: rps %.3f cpu %.3f, want 0.8 and 1.2", x.RPSx, x.CPUx)
	}
	if x.RPS != 800 {
		t.Fatalf("median rps %.0f, want 800", x.RPS)
	}
}

func TestGoals(t *testing.T) {
	rows := []row{
		{Group: "ext_authz Check, direct (gRPC)", Name: "hanko-authz, live sessions only", C: 4, CPUx: 1.1, RPSx: 0.95},
		{Group: "forged-token flood", Name: "same", C: 4, RPSx: 0.5, P99x: 3},
	}
	gs := goals(rows)
	if len(gs) != 4 || !gs[0].ok || !gs[1].ok || gs[2].ok || gs[3].ok {
		t.Fatalf("goals %+v", gs)
	}
}

func TestForgeKeepsHeaderAndSignature(t *testing.T) {
	claims := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u","session_id":"s","exp":1}`))
	tok := "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ." + claims + ".c2lnbmF0dXJl"
	f, err := forge(tok, 7)
	if err != nil {
		t.Fatal(err)
	}
	p, q := strings.Split(tok, "."), strings.Split(f, ".")
	if p[0] != q[0] || p[2] != q[2] || p[1] == q[1] {
		t.Fatalf("forged %q from %q: want the same header and signature, another payload", f, tok)
	}
	b, _ := base64.RawURLEncoding.DecodeString(q[1])
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil || c["session_id"] != "00000000-0000-4000-8000-000000000007" || c["sub"] != "u" {
		t.Fatalf("forged claims %s (%v)", b, err)
	}
}

func TestStreamMix(t *testing.T) {
	ts := &tokenSet{Valid: []string{"v1", "v2"}, Expired: []string{"e"}, Forged: []string{"f"}}
	reqs := buildStream(ts, 2000, streamMix{invalid: 0.2}, 1)
	var valid, cookie, bearer int
	for _, r := range reqs {
		hs := map[string]string{}
		for _, kv := range r.headers {
			hs[kv[0]] = kv[1]
		}
		if len(r.headers) < 11 {
			t.Fatalf("%d headers, want about 12", len(r.headers))
		}
		tok := strings.TrimPrefix(hs["authorization"], "Bearer ")
		if strings.Contains(hs["cookie"], "hanko=") {
			cookie++
			tok = strings.Split(strings.SplitN(hs["cookie"], "hanko=", 2)[1], ";")[0]
		} else if tok != "" {
			bearer++
		}
		if tok == "v1" || tok == "v2" {
			valid++
		}
		if r.check.GetAttributes().GetRequest().GetHttp().GetHeaders()[":path"] != r.path {
			t.Fatal("CheckRequest does not carry the request's path")
		}
	}
	if share := float64(valid) / float64(len(reqs)); share < 0.75 || share > 0.85 {
		t.Fatalf("live-session share %.2f, want about 0.8", share)
	}
	if cookie < 600 || bearer < 600 {
		t.Fatalf("tokens in cookie %d, bearer %d: want both often", cookie, bearer)
	}
}
