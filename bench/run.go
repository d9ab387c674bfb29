package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
)

// target is one server (or server chain) the harness drives.
type target struct {
	group  string
	name   string
	floor  bool   // the floor of its group
	kind   string // "check", "http" or "ghz"
	addr   string // check and ghz: host:port; http: base URL
	call   string // ghz: the method
	stream []*request
	procs  []*proc // the server-side processes whose CPU counts
	conn   *grpc.ClientConn
	client *http.Client
	flood  bool // run with the forged-token flood alongside
	once   bool // only at the first concurrency level
}

// sample is one measurement of a target.
type sample struct {
	Group, Name string
	Floor       bool
	Round, C    int
	RPS         float64
	P50, P99    time.Duration
	N, Errs     int
	Denied      int
	CPU         map[string]float64 // µs of CPU per request, per process
	ServerCPU   float64            // µs per request, server-side processes together
	ClientCPU   float64            // µs per request, the load client
	HankoCalls  int                // /sessions/validate calls during the run
	FloodRPS    float64            // the flood's own rate, for flood runs
}

type runFlags struct {
	dir, binary, ghz, opaPlugin, readme string
	plots, plotsURL                     string
	rounds                              int
	dur                                 time.Duration
	levels                              []int
	sessions                            int
	invalid                             float64
	floodClients                        int
	only                                *regexp.Regexp
}

func cmdRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var f runFlags
	var levels, ghz string
	fs.StringVar(&f.dir, "dir", "", "output directory (results, logs, plots)")
	fs.StringVar(&f.binary, "hanko-authz", "", "the hanko-authz binary")
	fs.StringVar(&ghz, "ghz", "", "the ghz command (space-separated), empty to skip the ghz rows")
	fs.StringVar(&f.opaPlugin, "opa-envoy-plugin", "", "the opa-envoy-plugin binary; empty: OPA's Go module in this harness")
	fs.StringVar(&f.readme, "readme", "", "README to rewrite the section between the bench markers of")
	fs.StringVar(&f.plots, "plots", "", "where to write the PNG plots (default: -dir)")
	fs.StringVar(&f.plotsURL, "plots-url", "", "how the README links the plots' directory")
	fs.IntVar(&f.rounds, "rounds", 3, "rounds; each drives every target once per level")
	fs.DurationVar(&f.dur, "duration", 3*time.Second, "length of one measurement")
	fs.StringVar(&levels, "c", "4,32", "concurrency levels")
	fs.IntVar(&f.sessions, "sessions", 300, "distinct live sessions in the stream")
	fs.Float64Var(&f.invalid, "invalid", 0.1, "share of requests without a live session")
	fs.IntVar(&f.floodClients, "flood", 50, "concurrent forged-token clients in the flood run")
	only := fs.String("only", "", "run only the groups whose name matches this `regexp`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for s := range strings.SplitSeq(levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-c: bad level %q", s)
		}
		f.levels = append(f.levels, n)
	}
	if ghz != "" {
		f.ghz = ghz
	}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			return fmt.Errorf("-only: %w", err)
		}
		f.only = re
	}
	if f.dir == "" || f.binary == "" {
		return errors.New("-dir and -hanko-authz are required")
	}
	// Bounded: the whole run ends within this, whatever happens.
	budget := time.Duration(f.rounds*len(f.levels)*20)*(f.dur+time.Second) + 3*time.Minute
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	h := &harness{f: f}
	defer h.stopAll()
	if err := h.setup(ctx); err != nil {
		return err
	}
	samples, err := h.measure(ctx)
	if err != nil {
		return err
	}
	return h.report(samples)
}

type harness struct {
	f       runFlags
	procs   []*proc
	targets []*target
	ts      *tokenSet
	hanko   *proc
	skipped []string
	machine string    // for the report
	at      time.Time // when the report was made
}

func (h *harness) stopAll() {
	for i := len(h.procs) - 1; i >= 0; i-- {
		h.procs[i].stop()
	}
	for _, t := range h.targets {
		if t.conn != nil {
			t.conn.Close()
		}
	}
}

func (h *harness) start(ctx context.Context, name, addr string, argv ...string) (*proc, error) {
	p, err := startProc(h.f.dir, name, argv...)
	if err != nil {
		return nil, err
	}
	h.procs = append(h.procs, p)
	if addr != "" {
		if err := waitListening(ctx, p, addr, 60*time.Second); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (h *harness) setup(ctx context.Context) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	f := h.f
	fmt.Fprintln(os.Stderr, "starting the fake Hanko (RSA-4096, minting sessions)...")
	if h.hanko, err = h.start(ctx, "hanko", "", self, "hanko", "-dir", f.dir, "-sessions", fmt.Sprint(f.sessions)); err != nil {
		return err
	}
	if h.ts, err = readTokenSet(ctx, f.dir); err != nil {
		return err
	}
	jwksFile := filepath.Join(f.dir, "jwks.json")
	if err := os.WriteFile(jwksFile, h.ts.JWKS, 0o600); err != nil {
		return err
	}
	mixed := buildStream(h.ts, 4096, streamMix{invalid: f.invalid}, 1)
	cached := buildStream(h.ts, 4096, streamMix{}, 2)
	addrs := map[string]string{}
	for _, k := range []string{"noop-grpc", "noop-http", "authz-grpc", "authz-http", "opa", "guide", "app-plain", "app-guarded", "pprof"} {
		if addrs[k], err = freeAddr(); err != nil {
			return err
		}
	}
	// The servers.
	noop, err := h.start(ctx, "noop", addrs["noop-grpc"], self, "noop", "-grpc-addr", addrs["noop-grpc"], "-http-addr", addrs["noop-http"])
	if err != nil {
		return err
	}
	authz, err := h.start(ctx, "hanko-authz", addrs["authz-grpc"], f.binary, "serve", "--hanko-url", h.ts.URL,
		"--grpc-addr", addrs["authz-grpc"], "--http-addr", addrs["authz-http"])
	if err != nil {
		return err
	}
	if err := waitReady(ctx, "http://"+addrs["authz-http"]+"/readyz"); err != nil {
		return err
	}
	var opa *proc
	opaName := "OPA decode_verify (opa-envoy-plugin)"
	if f.opaPlugin != "" {
		opa, err = h.startOPAPlugin(ctx, addrs["opa"], jwksFile)
	} else {
		opaName = "OPA decode_verify (OPA Go module, ext_authz shim)"
		opa, err = h.start(ctx, "opa", addrs["opa"], self, "opa", "-addr", addrs["opa"], "-jwks", jwksFile)
	}
	if err != nil {
		return err
	}
	guide, err := h.start(ctx, "guide", addrs["guide"], self, "guide", "-addr", addrs["guide"], "-hanko", h.ts.URL)
	if err != nil {
		return err
	}

	add := func(t *target) { h.targets = append(h.targets, t) }
	const gCheck, gHTTP, gEnvoy, gIcpt, gServe, gFlood = "ext_authz Check, direct (gRPC)", "HTTP, direct", "through Envoy", "gRPC service (ghz)", "hanko-authz's own gRPC API (ghz)", "forged-token flood"
	add(&target{group: gCheck, name: "no-op ext_authz", floor: true, kind: "check", addr: addrs["noop-grpc"], stream: mixed, procs: []*proc{noop}})
	add(&target{group: gCheck, name: "hanko-authz", kind: "check", addr: addrs["authz-grpc"], stream: mixed, procs: []*proc{authz, h.hanko}})
	add(&target{group: gCheck, name: "hanko-authz, live sessions only", kind: "check", addr: addrs["authz-grpc"], stream: cached, procs: []*proc{authz, h.hanko}})
	add(&target{group: gCheck, name: opaName, kind: "check", addr: addrs["opa"], stream: mixed, procs: []*proc{opa}})
	add(&target{group: gHTTP, name: "no-op HTTP", floor: true, kind: "http", addr: "http://" + addrs["noop-http"], stream: mixed, procs: []*proc{noop}})
	add(&target{group: gHTTP, name: "hanko-authz HTTP ext_authz", kind: "http", addr: "http://" + addrs["authz-http"] + "/authz", stream: mixed, procs: []*proc{authz, h.hanko}})
	add(&target{group: gHTTP, name: "Hanko Go guide (validate per request)", kind: "http", addr: "http://" + addrs["guide"], stream: mixed, procs: []*proc{guide, h.hanko}})

	wants := func(group string) bool { return f.only == nil || f.only.MatchString(group) }
	if !wants(gEnvoy) {
	} else if envoy := findEnvoy(); envoy == "" {
		h.skipped = append(h.skipped, "Envoy rows: no Envoy (set HANKOAUTH_ENVOY, put envoy on the PATH, or run scripts/install-envoy.sh)")
	} else {
		variants := []struct {
			name   string
			f      envoyFilter
			floor  bool
			behind []*proc
		}{
			{"Envoy, no auth", envoyFilter{}, true, nil},
			{"Envoy + ext_authz gRPC -> hanko-authz", extAuthzGRPC(addrs["authz-grpc"]), false, []*proc{authz, h.hanko}},
			{"Envoy + ext_authz HTTP -> hanko-authz", extAuthzHTTP(addrs["authz-http"]), false, []*proc{authz, h.hanko}},
			{"Envoy + jwt_authn (no revocation)", jwtAuthn(string(h.ts.JWKS)), false, nil},
			{"Envoy + ext_authz gRPC -> " + strings.TrimSuffix(strings.SplitN(opaName, " (", 2)[0], " "), extAuthzGRPC(addrs["opa"]), false, []*proc{opa}},
		}
		for i, v := range variants {
			listen, err := freeAddr()
			if err != nil {
				return err
			}
			cfg := filepath.Join(f.dir, fmt.Sprintf("envoy-%d.yaml", i))
			if err := os.WriteFile(cfg, []byte(envoyConfig(listen, v.f)), 0o600); err != nil {
				return err
			}
			p, err := h.start(ctx, fmt.Sprintf("envoy-%d", i), listen, envoy, "-c", cfg, "--concurrency", "1", "--disable-hot-restart", "-l", "warning")
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			add(&target{group: gEnvoy, name: v.name, floor: v.floor, kind: "http", addr: "http://" + listen, stream: mixed, procs: append([]*proc{p}, v.behind...)})
		}
	}

	if !wants(gIcpt) && !wants(gServe) {
	} else if f.ghz == "" {
		h.skipped = append(h.skipped, "ghz rows: no ghz command given")
	} else {
		plain, err := h.start(ctx, "app-plain", addrs["app-plain"], self, "app", "-addr", addrs["app-plain"])
		if err != nil {
			return err
		}
		guarded, err := h.start(ctx, "app-guarded", addrs["app-guarded"], self, "app", "-addr", addrs["app-guarded"], "-hanko", h.ts.URL, "-interceptors")
		if err != nil {
			return err
		}
		add(&target{group: gIcpt, name: "Health/Check, no interceptors", floor: true, kind: "ghz", addr: addrs["app-plain"], call: "grpc.health.v1.Health.Check", stream: cached, procs: []*proc{plain}})
		add(&target{group: gIcpt, name: "Health/Check, session interceptors", kind: "ghz", addr: addrs["app-guarded"], call: "grpc.health.v1.Health.Check", stream: cached, procs: []*proc{guarded, h.hanko}})
		add(&target{group: gServe, name: "Health/Check (public)", floor: true, kind: "ghz", addr: addrs["authz-grpc"], call: "grpc.health.v1.Health.Check", stream: cached, procs: []*proc{authz}})
		add(&target{group: gServe, name: "SessionService/WhoAmI (session)", kind: "ghz", addr: addrs["authz-grpc"], call: "hankoauth.v1.SessionService.WhoAmI", stream: cached, procs: []*proc{authz, h.hanko}})
		if err := writeGhzMetadata(filepath.Join(f.dir, "ghz-metadata.json"), cached); err != nil {
			return err
		}
	}
	add(&target{group: gFlood, name: "hanko-authz, live sessions, no flood", floor: true, kind: "check", addr: addrs["authz-grpc"], stream: cached, procs: []*proc{authz, h.hanko}, once: true})
	add(&target{group: gFlood, name: fmt.Sprintf("same, %d forged-token clients alongside", f.floodClients), kind: "check", addr: addrs["authz-grpc"], stream: cached, procs: []*proc{authz, h.hanko}, flood: true, once: true})
	if f.only != nil {
		var keep []*target
		for _, t := range h.targets {
			if f.only.MatchString(t.group) {
				keep = append(keep, t)
			}
		}
		h.targets = keep
	}
	for _, t := range h.targets {
		switch t.kind {
		case "check":
			if t.conn, err = dialCheck(t.addr); err != nil {
				return err
			}
		case "http":
			t.client = newHTTPClient(max(h.f.levels[len(h.f.levels)-1], 1))
		}
	}
	// Warm hanko-authz's cache with every session of the streams, as a
	// server that has run for a while has it, then every target
	// (connections, lazy initialisation).
	fmt.Fprintln(os.Stderr, "warming up...")
	for _, base := range []string{"http://" + addrs["authz-http"] + "/authz"} {
		if r := driveHTTP(ctx, newHTTPClient(8), base, mixed, 8, time.Minute, len(mixed)); r.errs > 0 {
			return fmt.Errorf("warming %s: %d errors", base, r.errs)
		}
	}
	for _, t := range h.targets {
		if _, err := h.drive(ctx, t, 4, time.Second); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	return nil
}

// startOPAPlugin runs the OPA Envoy plugin with the same policy.
func (h *harness) startOPAPlugin(ctx context.Context, addr, jwksFile string) (*proc, error) {
	dir := filepath.Join(h.f.dir, "opa-plugin")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	jwks, err := os.ReadFile(jwksFile)
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(map[string]string{"jwks": string(jwks)})
	if err := os.WriteFile(filepath.Join(dir, "policy.rego"), []byte(opaPolicy), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "data.json"), data, 0o600); err != nil {
		return nil, err
	}
	return h.start(ctx, "opa", addr, h.f.opaPlugin, "run", "--server", "--addr", "127.0.0.1:0",
		"--set", "plugins.envoy_ext_authz_grpc.addr="+addr,
		"--set", "plugins.envoy_ext_authz_grpc.path=envoy/authz/allow",
		"--set", "decision_logs.console=false", dir)
}

// waitReady polls url until it answers 200.
func waitReady(ctx context.Context, url string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after 60s", url)
}

// hankoCalls returns the /sessions/validate calls the fake Hanko has seen.
func (h *harness) hankoCalls() int {
	resp, err := http.Get(h.ts.URL + "/_bench/calls")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var m map[string]int
	b, _ := io.ReadAll(resp.Body)
	if json.Unmarshal(b, &m) != nil {
		return -1
	}
	return m["validate"]
}

// drive runs one measurement of t at concurrency c.
func (h *harness) drive(ctx context.Context, t *target, c int, d time.Duration) (sample, error) {
	s := sample{Group: t.group, Name: t.name, Floor: t.floor, C: c, CPU: map[string]float64{}}
	before := make([]time.Duration, len(t.procs))
	for i, p := range t.procs {
		before[i] = p.cpuTime()
	}
	calls0 := h.hankoCalls()
	self0 := selfCPU()
	var res loadResult
	var clientCPU time.Duration
	switch t.kind {
	case "check":
		var stopFlood func() float64
		if t.flood {
			stopFlood = h.startFlood(ctx, t.addr)
		}
		res = driveCheck(ctx, t.conn, t.stream, c, d)
		if stopFlood != nil {
			s.FloodRPS = stopFlood()
		}
		clientCPU = selfCPU() - self0
		if t.flood {
			// The server finishes the forged tokens it has queued (each
			// waits at most hanko-authz's 5 s request timeout): let it,
			// so that the next measurement does not pay for this one.
			defer time.Sleep(6 * time.Second)
		}
	case "http":
		res = driveHTTP(ctx, t.client, t.addr, t.stream, c, d, 0)
		clientCPU = selfCPU() - self0
	case "ghz":
		var err error
		res, clientCPU, err = runGhz(ctx, strings.Fields(h.f.ghz), t.addr, t.call, filepath.Join(h.f.dir, "ghz-metadata.json"), c, d)
		if err != nil {
			return s, err
		}
	}
	s.HankoCalls = h.hankoCalls() - calls0
	if res.n == 0 {
		return s, fmt.Errorf("no request completed (%d errors)", res.errs)
	}
	s.RPS, s.P50, s.P99, s.N, s.Errs, s.Denied = res.rps(), res.p50, res.p99, res.n, res.errs, res.denied
	for i, p := range t.procs {
		us := float64((p.cpuTime() - before[i]).Microseconds()) / float64(res.n)
		s.CPU[p.name] += us
		if p != h.hanko {
			s.ServerCPU += us
		}
	}
	s.ClientCPU = float64(clientCPU.Microseconds()) / float64(res.n)
	return s, nil
}

// startFlood starts the forged-token clients against addr; the returned
// function stops them and returns their request rate.
func (h *harness) startFlood(ctx context.Context, addr string) func() float64 {
	conn, err := dialCheck(addr)
	if err != nil {
		return func() float64 { return 0 }
	}
	flood := make([]*request, len(h.ts.Flood))
	for i, tok := range h.ts.Flood {
		hd := [][2]string{{"authorization", "Bearer " + tok}, {"user-agent", "curl/8.5.0"}}
		flood[i] = &request{method: "GET", path: "/api/orders", headers: hd, check: checkRequest("GET", "/api/orders", hd)}
	}
	rand.Shuffle(len(flood), func(i, j int) { flood[i], flood[j] = flood[j], flood[i] })
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan loadResult, 1)
	go func() { done <- driveCheck(fctx, conn, flood, h.f.floodClients, time.Hour) }()
	return func() float64 {
		cancel()
		r := <-done
		conn.Close()
		return r.rps()
	}
}

// measure drives every target at every level, rounds times, rotating the
// order of the targets in each group from round to round.
func (h *harness) measure(ctx context.Context) ([]sample, error) {
	var out []sample
	total := 0
	for _, t := range h.targets {
		if t.once {
			total += h.f.rounds
		} else {
			total += h.f.rounds * len(h.f.levels)
		}
	}
	done := 0
	for r := range h.f.rounds {
		for li, c := range h.f.levels {
			groups := groupsOf(h.targets)
			for _, g := range groups {
				if g[0].once && li > 0 {
					continue
				}
				// rotate: each round starts the group at another target
				for k := range g {
					t := g[(k+r)%len(g)]
					s, err := h.drive(ctx, t, c, h.f.dur)
					if err != nil {
						return nil, fmt.Errorf("%s, c=%d: %w", t.name, c, err)
					}
					s.Round = r
					out = append(out, s)
					done++
					fmt.Fprintf(os.Stderr, "[%d/%d] round %d c=%-3d %-55s %9.0f/s p99 %8s server %6.1f µs/req\n",
						done, total, r+1, c, t.name, s.RPS, s.P99.Round(time.Microsecond), s.ServerCPU)
				}
			}
		}
	}
	return out, nil
}

// groupsOf returns the targets by group, in order of first appearance.
func groupsOf(ts []*target) [][]*target {
	var order []string
	by := map[string][]*target{}
	for _, t := range ts {
		if _, ok := by[t.group]; !ok {
			order = append(order, t.group)
		}
		by[t.group] = append(by[t.group], t)
	}
	var out [][]*target
	for _, g := range order {
		out = append(out, by[g])
	}
	return out
}
