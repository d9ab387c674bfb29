package main

import (
	"bytes"
	"flag"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{
		"hanko-url":               "HANKO_API_URL",
		"grpc-addr":               "HANKO_AUTHZ_GRPC_ADDR",
		"mode":                    "HANKO_AUTHZ_MODE",
		"identity-header-session": "HANKO_AUTHZ_IDENTITY_HEADER_SESSION",
	} {
		if got := envName(flag); got != want {
			t.Errorf("envName(%q) = %q, want %q", flag, got, want)
		}
	}
}

// testFlags is a flag set with one flag of each kind.
type testFlags struct {
	url      string
	addr     string
	revalid  time.Duration
	strip    bool
	size     int
	audience listValue
	mode     *choiceValue
}

func newTestFlags() (*flag.FlagSet, *testFlags) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f := &testFlags{mode: newChoice("hybrid", "hybrid", "local", "remote")}
	fs.StringVar(&f.url, "hanko-url", "", "")
	fs.StringVar(&f.addr, "grpc-addr", ":9001", "")
	fs.DurationVar(&f.revalid, "revalidate-after", 15*time.Second, "")
	fs.BoolVar(&f.strip, "strip-token", false, "")
	fs.IntVar(&f.size, "cache-size", 100, "")
	fs.Var(&f.audience, "audience", "")
	fs.Var(f.mode, "mode", "")
	return fs, f
}

func TestParseArgs(t *testing.T) {
	type want struct {
		url      string
		addr     string
		revalid  time.Duration
		strip    bool
		size     int
		audience []string
		mode     string
		args     []string
	}
	def := want{addr: ":9001", revalid: 15 * time.Second, size: 100, mode: "hybrid"}
	with := func(f func(*want)) want { w := def; f(&w); return w }
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    want
		wantErr string
	}{
		{name: "defaults", want: def},
		{name: "flags", args: []string{"--hanko-url", "http://h", "-grpc-addr=:1", "--revalidate-after", "1s", "--strip-token", "--cache-size=-1", "--mode", "LOCAL", "tok"},
			want: with(func(w *want) {
				w.url, w.addr, w.revalid, w.strip, w.size, w.mode, w.args = "http://h", ":1", time.Second, true, -1, "local", []string{"tok"}
			})},
		{name: "env fills in", env: map[string]string{
			"HANKO_API_URL": "http://env", "HANKO_AUTHZ_GRPC_ADDR": ":2", "HANKO_AUTHZ_REVALIDATE_AFTER": "2m",
			"HANKO_AUTHZ_STRIP_TOKEN": "true", "HANKO_AUTHZ_CACHE_SIZE": "7", "HANKO_AUTHZ_AUDIENCE": "a, b,,c", "HANKO_AUTHZ_MODE": "remote",
		}, want: with(func(w *want) {
			w.url, w.addr, w.revalid, w.strip, w.size, w.audience, w.mode = "http://env", ":2", 2*time.Minute, true, 7, []string{"a", "b", "c"}, "remote"
		})},
		{name: "command line wins", args: []string{"--grpc-addr", ":3", "--audience", "x", "--audience", "y,z", "--strip-token=false"},
			env:  map[string]string{"HANKO_AUTHZ_GRPC_ADDR": ":2", "HANKO_AUTHZ_AUDIENCE": "a", "HANKO_AUTHZ_STRIP_TOKEN": "true", "HANKO_API_URL": "http://env"},
			want: with(func(w *want) { w.url, w.addr, w.audience = "http://env", ":3", []string{"x", "y", "z"} })},
		{name: "empty env is unset", env: map[string]string{"HANKO_AUTHZ_GRPC_ADDR": ""}, want: def},
		{name: "only HANKO_API_URL names the url", env: map[string]string{"HANKO_AUTHZ_HANKO_URL": "http://wrong"}, want: def},
		{name: "bad flag", args: []string{"--nope"}, wantErr: "flag provided but not defined: -nope"},
		{name: "bad flag value", args: []string{"--mode", "fast"}, wantErr: `invalid value "fast" for flag -mode: want hybrid, local, remote`},
		{name: "bad env value", env: map[string]string{"HANKO_AUTHZ_REVALIDATE_AFTER": "soon"},
			wantErr: `invalid value "soon" for HANKO_AUTHZ_REVALIDATE_AFTER`},
		{name: "bad env values, all reported", env: map[string]string{"HANKO_AUTHZ_CACHE_SIZE": "many", "HANKO_AUTHZ_MODE": "fast"},
			wantErr: `invalid value "many" for HANKO_AUTHZ_CACHE_SIZE`},
		{name: "help", args: []string{"-h"}, wantErr: flag.ErrHelp.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, f := newTestFlags()
			err := parseArgs(fs, tc.args, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := want{f.url, f.addr, f.revalid, f.strip, f.size, f.audience, f.mode.value, fs.Args()}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{}), cmp.Comparer(func(a, b []string) bool {
				return strings.Join(a, "\x00") == strings.Join(b, "\x00")
			})); diff != "" {
				t.Errorf("parsed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrintUsage(t *testing.T) {
	fs, _ := newTestFlags()
	var b strings.Builder
	printUsage(&b, fs, "hanko-authz test [flags]", "Test does nothing.")
	out := b.String()
	for _, want := range []string{
		"Usage: hanko-authz test [flags]", "Test does nothing.",
		"--grpc-addr string", "(default :9001) [HANKO_AUTHZ_GRPC_ADDR]", "[HANKO_API_URL]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("usage lacks %q:\n%s", want, out)
		}
	}
}

// JSON logs print durations as text, as the flags take them, not as
// nanoseconds; text logs already do.
func TestJSONLogDurations(t *testing.T) {
	for format, want := range map[string]string{"json": `"timeout":"10m0s"`, "text": "timeout=10m0s"} {
		var buf bytes.Buffer
		c := validatorConfig{logLevel: newChoice("info", "info"), logFormat: newChoice(format, "text", "json")}
		c.logger(&buf).Info("x", slog.Duration("timeout", 10*time.Minute), slog.Group("g", slog.Duration("d", time.Second)))
		if got := buf.String(); !strings.Contains(got, want) || strings.Contains(got, "600000000000") || !strings.Contains(got, "1s") {
			t.Errorf("%s: %s; want %s", format, got, want)
		}
	}
}
