// Command hankobench is the load harness of hankoauth: it starts a fake
// Hanko, the servers under test and their peers on 127.0.0.1, drives them
// in turn with the same stream of requests, and reports throughput,
// latency, the CPU per request of every process involved and the calls
// that reached Hanko. bench/run.sh builds it and runs it; see the
// README's "Numbers" section.
//
// Its subcommands other than run are the processes run starts:
//
//	hankobench run      [flags]   the harness (see run -h)
//	hankobench hanko    -dir D    a fake Hanko; writes D/hanko.json (its URL, tokens, JWKS)
//	hankobench noop     -grpc-addr A -http-addr B   an ext_authz server that allows everything
//	hankobench guide    -addr A -hanko URL          HTTP middleware as in Hanko's Go guide
//	hankobench app      -addr A -hanko URL [-interceptors]   a gRPC service with or without our interceptors
//	hankobench opa      -addr A -jwks FILE          ext_authz by an OPA decode_verify policy
//	hankobench report   -dir D [-readme R -plots P -plots-url U]   render an earlier run's report again
//	hankobench load     -dir D -addr A [-c 8 -d 20s -invalid 0 -flood 0]   drive one ext_authz server (for profiling)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: hankobench run|hanko|noop|guide|app|opa [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmds := map[string]func(context.Context, []string) error{
		"run":    cmdRun,
		"hanko":  cmdHanko,
		"noop":   cmdNoop,
		"guide":  cmdGuide,
		"app":    cmdApp,
		"opa":    cmdOPA,
		"load":   cmdLoad,
		"report": cmdReport,
	}
	cmd, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "hankobench: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := cmd(ctx, os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "hankobench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
