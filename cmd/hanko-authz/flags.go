package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// envName is the environment variable behind the flag name: HANKO_API_URL
// for hanko-url (the name Hanko's own tools use), otherwise HANKO_AUTHZ_
// and the name in upper case with dashes as underscores.
func envName(name string) string {
	if name == "hanko-url" {
		return "HANKO_API_URL"
	}
	return "HANKO_AUTHZ_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// parseArgs parses args with fs, then sets every flag that the command
// line did not give from its environment variable (see envName), when
// that is set and not empty: the command line wins over the environment,
// which wins over the default. fs must use flag.ContinueOnError; a
// flag.ErrHelp is returned as it is.
func parseArgs(fs *flag.FlagSet, args []string, lookupEnv func(string) (string, bool)) error {
	fs.SetOutput(io.Discard) // errors are reported by the caller, in one line
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		name := envName(f.Name)
		v, ok := lookupEnv(name)
		if !ok || v == "" {
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("invalid value %q for %s: %v", v, name, err))
		}
	})
	return errors.Join(errs...)
}

// listValue is a flag of comma-separated values that may also be
// repeated: "--x a,b --x c" is [a b c]. Blank items are dropped.
type listValue []string

func (l *listValue) String() string { return strings.Join(*l, ",") }

func (l *listValue) Set(s string) error {
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

// choiceValue is a flag whose value is one of a fixed set.
type choiceValue struct {
	value   string
	choices []string
}

func newChoice(def string, choices ...string) *choiceValue {
	return &choiceValue{value: def, choices: choices}
}

func (c *choiceValue) String() string {
	if c == nil {
		return ""
	}
	return c.value
}

func (c *choiceValue) Set(s string) error {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, ch := range c.choices {
		if s == ch {
			c.value = s
			return nil
		}
	}
	return fmt.Errorf("want %s", strings.Join(c.choices, ", "))
}

// printUsage writes the usage of a subcommand: its synopsis, its
// description and its flags, each with its environment variable.
func printUsage(w io.Writer, fs *flag.FlagSet, synopsis, description string) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", synopsis, strings.TrimSpace(description))
	var b strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		if b.Len() == 0 {
			b.WriteString("\nFlags (each also read from the environment variable in brackets):\n")
		}
		typ, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(&b, "  --%s", f.Name)
		if typ != "" {
			fmt.Fprintf(&b, " %s", typ)
		}
		fmt.Fprintf(&b, "\n      %s", usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(&b, " (default %s)", f.DefValue)
		}
		fmt.Fprintf(&b, " [%s]\n", envName(f.Name))
	})
	io.WriteString(w, b.String())
}
