package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/sessionservice"
)

const validateDescription = `Validate checks one session token, given as the argument or on stdin, with
the same validator as serve, and prints its session as JSON (the
hankoauth.v1.Session message) on stdout.

Exit status: 0 the token is a live session; 1 it is not (its reason code,
such as SESSION_EXPIRED, goes to stderr); 2 a usage error; 3 Hanko could
not be asked (a refused connection fails at once, with its cause; a Hanko
that does not answer, after --timeout).`

func (c *cli) validate(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	var cfg validatorConfig
	addValidatorFlags(fs, &cfg, true, "error")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for Hanko")
	if code, done := c.parse(fs, args, "hanko-authz validate [flags] [TOKEN]", validateDescription); done {
		return code
	}
	if fs.NArg() > 1 {
		return c.fail("validate", usageErrorf("want at most one token, got %d arguments", fs.NArg()))
	}
	if *timeout <= 0 {
		return c.fail("validate", usageErrorf("--timeout must be positive"))
	}
	token := fs.Arg(0)
	if fs.NArg() == 0 {
		// As doctor reads it: never from a terminal, at most --timeout.
		var err error
		if token, err = c.readStdinToken(ctx, *timeout); err != nil {
			return c.fail("validate", err)
		}
	}
	if token = strings.TrimSpace(token); token == "" {
		return c.fail("validate", usageErrorf("no token: give it as the argument or on stdin"))
	}

	log := cfg.logger(c.stderr)
	hcfg, err := cfg.hankoConfig(log)
	if err != nil {
		return c.fail("validate", err)
	}
	v, err := hankoauth.New(hcfg)
	if err != nil {
		return c.fail("validate", &usageError{msg: err.Error()})
	}
	defer v.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	// Validate fetches the JWKS itself when it has none yet, so a
	// refused connection fails this call at once.
	sess, err := v.Validate(ctx, token)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		fmt.Fprintf(c.stderr, "hanko-authz validate: %s: Hanko at %s did not answer within %v: %v\n", hankoauth.ReasonUnavailable, cfg.hankoURL, *timeout, v.Ready())
		return exitUnavailable
	case errors.Is(err, hankoauth.ErrUnavailable):
		fmt.Fprintf(c.stderr, "hanko-authz validate: %s: %v\n", hankoauth.ReasonUnavailable, err)
		return exitUnavailable
	default:
		fmt.Fprintf(c.stderr, "hanko-authz validate: token rejected: %s\n", hankoauth.ReasonOf(err))
		return exitRejected
	}
	// protojson varies its whitespace on purpose; json.Indent makes the
	// output stable.
	raw, err := protojson.Marshal(sessionservice.ToProto(sess))
	var out bytes.Buffer
	if err == nil {
		err = json.Indent(&out, raw, "", "  ")
	}
	if err != nil {
		return c.fail("validate", err)
	}
	out.WriteByte('\n')
	c.stdout.Write(out.Bytes())
	return exitOK
}
