package main

import (
	"context"
	"flag"
	"fmt"
	"time"
)

// cmdLoad drives one ext_authz server with the stream, for profiling it
// (hanko-authz serve --pprof-addr) outside a full run.
func cmdLoad(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory of a running `hankobench hanko`")
	addr := fs.String("addr", "", "ext_authz gRPC address")
	c := fs.Int("c", 8, "concurrent callers")
	d := fs.Duration("d", 20*time.Second, "duration")
	invalid := fs.Float64("invalid", 0, "share of requests without a live session")
	flood := fs.Int("flood", 0, "concurrent forged-token clients alongside")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ts, err := readTokenSet(ctx, *dir)
	if err != nil {
		return err
	}
	conn, err := dialCheck(*addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	h := &harness{f: runFlags{floodClients: *flood}, ts: ts}
	var stop func() float64
	if *flood > 0 {
		stop = h.startFlood(ctx, *addr)
	}
	r := driveCheck(ctx, conn, buildStream(ts, 4096, streamMix{invalid: *invalid}, 3), *c, *d)
	if stop != nil {
		fmt.Printf("flood: %.0f/s\n", stop())
	}
	fmt.Printf("%d requests, %.0f/s, p50 %s, p99 %s, %d denied, %d errors\n", r.n, r.rps(), r.p50, r.p99, r.denied, r.errs)
	return nil
}
