package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one kills at once.
		<-ctx.Done()
		stop()
	}()
	c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, lookupEnv: os.LookupEnv}
	code := c.main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// cli is one run of the command, with its streams and environment.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)
}

// The exit statuses.
const (
	exitOK          = 0
	exitFailure     = 1 // serve failed; validate: the token was rejected
	exitUsage       = 2 // bad flags or configuration
	exitUnavailable = 3 // validate: Hanko could not be asked
	exitRejected    = exitFailure
)

const mainUsage = `hanko-authz enforces Hanko session tokens: a gRPC SessionService, Envoy's
ext_authz (gRPC and HTTP) and health endpoints, backed by one validator.

Usage: hanko-authz <command> [flags]

Commands:
  serve      run the server against a Hanko (--hanko-url)
  dev        run a fake Hanko and the server on 127.0.0.1, print a demo token and commands
  validate   validate one token and print its session as JSON
  version    print the version
  help       print this help, or a command's: hanko-authz help serve

Run 'hanko-authz <command> -h' for a command's flags. Every flag can also be
set in the environment: HANKO_API_URL for --hanko-url, HANKO_AUTHZ_<FLAG> for
the others (--grpc-addr is HANKO_AUTHZ_GRPC_ADDR); the command line wins.
`

// main runs the command in args and returns the exit status.
func (c *cli) main(ctx context.Context, args []string) int {
	if len(args) == 0 {
		io.WriteString(c.stderr, mainUsage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return c.serve(ctx, rest)
	case "dev":
		return c.dev(ctx, rest)
	case "validate":
		return c.validate(ctx, rest)
	case "version", "-version", "--version":
		fmt.Fprintln(c.stdout, versionString())
		return exitOK
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] != "help" {
			return c.main(ctx, []string{rest[0], "-h"})
		}
		io.WriteString(c.stdout, mainUsage)
		return exitOK
	}
	fmt.Fprintf(c.stderr, "hanko-authz: unknown command %q (run 'hanko-authz help')\n", cmd)
	return exitUsage
}

// parse parses the flags of the subcommand cmd. It returns done with the
// exit status when the command should not go on: after -h (usage on
// stdout, status 0) or a bad flag (one line on stderr, status 2).
func (c *cli) parse(fs *flag.FlagSet, args []string, synopsis, description string) (code int, done bool) {
	err := parseArgs(fs, args, c.lookupEnv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(c.stdout, fs, synopsis, description)
		return exitOK, true
	case err != nil:
		return c.fail(fs.Name(), &usageError{msg: err.Error()}), true
	}
	return 0, false
}

// fail reports err in one line on stderr and returns the exit status:
// exitUsage for a *usageError, exitFailure otherwise.
func (c *cli) fail(cmd string, err error) int {
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(c.stderr, "hanko-authz %s: %s (run 'hanko-authz %s -h')\n", cmd, msg, cmd)
		return exitUsage
	}
	fmt.Fprintf(c.stderr, "hanko-authz %s: %s\n", cmd, msg)
	return exitFailure
}

const serveDescription = `Serve enforces Hanko session tokens.

On --grpc-addr: hankoauth.v1.SessionService (behind the session
interceptors), grpc.health.v1.Health (SERVING once Hanko's keys are
loaded), server reflection, and Envoy's envoy.service.auth.v3.Authorization
(ext_authz). On --http-addr: /healthz (200 while running), /readyz (200
when ready, else 503), Prometheus metrics on /metrics and the HTTP
ext_authz handler under /authz/. Traces go to the OTLP endpoint named by
OTEL_EXPORTER_OTLP_ENDPOINT, when set. SIGINT or SIGTERM stops it
gracefully.`

func (c *cli) serve(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg serveConfig
	addServeFlags(fs, &cfg, true, "")
	if code, done := c.parse(fs, args, "hanko-authz serve [flags]", serveDescription); done {
		return code
	}
	if fs.NArg() > 0 {
		return c.fail("serve", usageErrorf("unexpected argument %q", fs.Arg(0)))
	}
	log := cfg.logger(c.stderr)
	h, err := observability(ctx, log)
	if err != nil {
		return c.fail("serve", err)
	}
	if err := run(ctx, cfg, log, h); err != nil {
		return c.fail("serve", err)
	}
	return exitOK
}
