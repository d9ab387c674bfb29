// Command gen writes hanko-authz's Grafana dashboard, built by package
// grafana, as indented JSON.
//
//	go run ./gen -o hankoauth.json
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/hankoauth/hankoauth/deploy/grafana"
)

func main() {
	out := flag.String("o", "", "write the dashboard to this `file` instead of stdout")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	b, err := grafana.JSON()
	if err != nil {
		return err
	}
	if out == "" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(out, b, 0o644)
}
