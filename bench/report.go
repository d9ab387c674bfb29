package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// row is the medians of one target at one level over the rounds.
type row struct {
	Group, Name string
	Floor       bool
	C           int
	RPS         float64
	P50, P99    time.Duration
	ServerCPU   float64
	CPU         map[string]float64
	ClientCPU   float64
	HankoCalls  float64 // per 1 000 requests
	Errs        int
	Denied      float64 // share
	// medians of the per-round ratios to the floor of the group
	RPSx, P99x, CPUx float64
	FloodRPS         float64
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// aggregate turns samples into rows: medians per target and level, and
// medians of the ratios to the floor measured in the same round.
func aggregate(samples []sample) []row {
	type key struct {
		name string
		c    int
	}
	floorOf := map[[3]any]sample{} // group, round, c
	for _, s := range samples {
		if s.Floor {
			floorOf[[3]any{s.Group, s.Round, s.C}] = s
		}
	}
	var order []key
	by := map[key][]sample{}
	for _, s := range samples {
		k := key{s.Name, s.C}
		if _, ok := by[k]; !ok {
			order = append(order, k)
		}
		by[k] = append(by[k], s)
	}
	// Rows by group, then target, in order of first appearance, then by
	// concurrency level.
	groupIdx, nameIdx := map[string]int{}, map[string]int{}
	for _, sm := range samples {
		if _, ok := groupIdx[sm.Group]; !ok {
			groupIdx[sm.Group] = len(groupIdx)
		}
		if _, ok := nameIdx[sm.Name]; !ok {
			nameIdx[sm.Name] = len(nameIdx)
		}
	}
	slices.SortStableFunc(order, func(a, b key) int {
		ga, gb := groupIdx[by[a][0].Group], groupIdx[by[b][0].Group]
		if ga != gb {
			return ga - gb
		}
		if na, nb := nameIdx[a.name], nameIdx[b.name]; na != nb {
			return na - nb
		}
		return a.c - b.c
	})
	var rows []row
	for _, k := range order {
		ss := by[k]
		r := row{Group: ss[0].Group, Name: k.name, Floor: ss[0].Floor, C: k.c, CPU: map[string]float64{}}
		var rps, p50, p99, cpu, client, calls, denied, flood, rx, px, cx []float64
		procs := map[string][]float64{}
		for _, s := range ss {
			rps = append(rps, s.RPS)
			p50 = append(p50, float64(s.P50))
			p99 = append(p99, float64(s.P99))
			cpu = append(cpu, s.ServerCPU)
			client = append(client, s.ClientCPU)
			calls = append(calls, float64(s.HankoCalls)*1000/float64(s.N))
			denied = append(denied, float64(s.Denied)/float64(s.N))
			flood = append(flood, s.FloodRPS)
			r.Errs += s.Errs
			for p, v := range s.CPU {
				procs[p] = append(procs[p], v)
			}
			if f, ok := floorOf[[3]any{s.Group, s.Round, s.C}]; ok {
				rx = append(rx, s.RPS/f.RPS)
				px = append(px, float64(s.P99)/float64(f.P99))
				if f.ServerCPU > 0 {
					cx = append(cx, s.ServerCPU/f.ServerCPU)
				}
			}
		}
		r.RPS, r.P50, r.P99 = median(rps), time.Duration(median(p50)), time.Duration(median(p99))
		r.ServerCPU, r.ClientCPU, r.HankoCalls, r.Denied, r.FloodRPS = median(cpu), median(client), median(calls), median(denied), median(flood)
		r.RPSx, r.P99x, r.CPUx = median(rx), median(px), median(cx)
		for p, v := range procs {
			r.CPU[p] = median(v)
		}
		rows = append(rows, r)
	}
	return rows
}

// goal is a target of the project, checked against a row.
type goal struct {
	text string
	ok   bool
}

func goals(rows []row) []goal {
	var out []goal
	for _, r := range rows {
		switch {
		case r.Name == "hanko-authz, live sessions only":
			out = append(out,
				goal{fmt.Sprintf("cached Check, c=%d: server CPU per request at most 1.15x the no-op's: %.2fx (%.1f µs)", r.C, r.CPUx, r.ServerCPU), r.CPUx <= 1.15},
				goal{fmt.Sprintf("cached Check, c=%d: throughput at least 0.9x the no-op's: %.2fx (%.0f/s)", r.C, r.RPSx, r.RPS), r.RPSx >= 0.9})
		case strings.HasPrefix(r.Name, "SessionService/WhoAmI"), r.Name == "Health/Check, session interceptors":
			what := "interceptors (library), " + r.Name
			if strings.HasPrefix(r.Name, "SessionService") {
				what = "hanko-authz WhoAmI vs public Health/Check"
			}
			out = append(out,
				goal{fmt.Sprintf("%s, c=%d: CPU per request at most 1.15x: %.2fx", what, r.C, r.CPUx), r.CPUx <= 1.15},
				goal{fmt.Sprintf("%s, c=%d: throughput at least 0.9x: %.2fx", what, r.C, r.RPSx), r.RPSx >= 0.9})
		case r.Group == "forged-token flood" && !r.Floor:
			out = append(out,
				goal{fmt.Sprintf("flood, c=%d: cached throughput at least 0.7x of no flood: %.2fx (%.0f/s; flood %.0f/s)", r.C, r.RPSx, r.RPS, r.FloodRPS), r.RPSx >= 0.7},
				goal{fmt.Sprintf("flood, c=%d: cached p99 at most 2x of no flood: %.2fx (%s)", r.C, r.P99x, r.P99.Round(10*time.Microsecond)), r.P99x <= 2})
		}
	}
	return out
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return fmt.Sprintf("%s, %d CPUs (shared with other jobs; load average at the end %s), %s/%s, %s", model, runtime.NumCPU(), load, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/1e3) }

// markdown renders the rows, the goals and the plots.
func (h *harness) markdown(rows []row, gs []goal, plots []string) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Generated by `bench/run.sh` on %s.\n\n", h.at.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %s. %d rounds; in each, every concurrency level, every target driven for %s, the targets of a group in rotating order. "+
		"Medians over the rounds; \"× floor\" is the median of the per-round ratios to the group's floor (first row of each group), measured in the same round. "+
		"Server CPU is user+system time from /proc/<pid>/stat of the server-side processes (Envoy and the auth server; the fake Hanko apart) divided by requests. "+
		"The request stream: %d distinct live sessions, %.0f%% of requests without one (no token, malformed, expired, forged), about 12 headers, the token in the `hanko` cookie or `Authorization`.\n\n",
		h.machine, h.f.rounds, h.f.dur, h.f.sessions, h.f.invalid*100)
	group := ""
	for _, r := range rows {
		if r.Group != group {
			group = r.Group
			fmt.Fprintf(&b, "\n**%s**\n\n| server | c | req/s | × floor | p50 µs | p99 µs | p99 × floor | server CPU µs/req | CPU × floor | Hanko calls /1k req | errors |\n|---|---|---|---|---|---|---|---|---|---|---|\n", group)
		}
		fl := func(x float64) string {
			if r.Floor {
				return "floor"
			}
			return fmt.Sprintf("%.2f", x)
		}
		fmt.Fprintf(&b, "| %s | %d | %.0f | %s | %s | %s | %s | %.1f | %s | %.1f | %d |\n", r.Name, r.C, r.RPS, fl(r.RPSx), us(r.P50), us(r.P99), fl(r.P99x), r.ServerCPU, fl(r.CPUx), r.HankoCalls, r.Errs)
	}
	fmt.Fprintf(&b, "\nTargets:\n\n")
	for _, g := range gs {
		mark := "met"
		if !g.ok {
			mark = "**missed**"
		}
		fmt.Fprintf(&b, "- %s — %s\n", g.text, mark)
	}
	for _, s := range h.skipped {
		fmt.Fprintf(&b, "- skipped: %s\n", s)
	}
	if len(plots) > 0 {
		b.WriteString("\n")
		for _, p := range plots {
			fmt.Fprintf(&b, "![%s](%s)\n", strings.TrimSuffix(filepath.Base(p), ".png"), p)
		}
	}
	return b.String()
}

const beginMark, endMark = "<!-- bench:begin -->", "<!-- bench:end -->"

// results is what results.json holds: enough to render the report again
// (hankobench report).
type results struct {
	Rounds   int           `json:"rounds"`
	Duration time.Duration `json:"duration"`
	Sessions int           `json:"sessions"`
	Invalid  float64       `json:"invalid"`
	Skipped  []string      `json:"skipped"`
	Machine  string        `json:"machine"`
	At       time.Time     `json:"at"`
	Samples  []sample      `json:"samples"`
	Rows     []row         `json:"rows"`
}

func (h *harness) report(samples []sample) error {
	h.machine, h.at = machine(), time.Now().UTC()
	rows := aggregate(samples)
	res := results{Rounds: h.f.rounds, Duration: h.f.dur, Sessions: h.f.sessions, Invalid: h.f.invalid,
		Skipped: h.skipped, Machine: h.machine, At: h.at, Samples: samples, Rows: rows}
	raw, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(filepath.Join(h.f.dir, "results.json"), raw, 0o600); err != nil {
		return err
	}
	return h.render(rows)
}

// cmdReport renders the report of an earlier run again from its
// results.json (after a change to the tables or the plots).
func cmdReport(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	var f runFlags
	fs.StringVar(&f.dir, "dir", "", "the run's output directory")
	fs.StringVar(&f.readme, "readme", "", "README to rewrite the section between the bench markers of")
	fs.StringVar(&f.plots, "plots", "", "where to write the PNG plots (default: -dir)")
	fs.StringVar(&f.plotsURL, "plots-url", "", "how the README links the plots' directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(f.dir, "results.json"))
	if err != nil {
		return err
	}
	var res results
	if err := json.Unmarshal(b, &res); err != nil {
		return err
	}
	f.rounds, f.dur, f.sessions, f.invalid = res.Rounds, res.Duration, res.Sessions, res.Invalid
	h := &harness{f: f, skipped: res.Skipped, machine: res.Machine, at: res.At}
	return h.render(aggregate(res.Samples))
}

// render writes the plots and numbers.md, prints the report and rewrites
// the README's section.
func (h *harness) render(rows []row) error {
	gs := goals(rows)
	plots, err := h.plot(rows)
	if err != nil {
		return err
	}
	md := h.markdown(rows, gs, plots)
	if err := os.WriteFile(filepath.Join(h.f.dir, "numbers.md"), []byte(md), 0o600); err != nil {
		return err
	}
	fmt.Println(md)
	if h.f.readme == "" {
		return nil
	}
	b, err := os.ReadFile(h.f.readme)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, beginMark), strings.Index(s, endMark)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s ... %s section", h.f.readme, beginMark, endMark)
	}
	s = s[:i+len(beginMark)] + "\n" + md + s[j:]
	return os.WriteFile(h.f.readme, []byte(s), 0o644)
}
