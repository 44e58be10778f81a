package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/acr-emulator/acr-emulator/scenarios"
	"github.com/acr-emulator/acr-emulator/scenarios/catalog"
)

// scenarioCmd serves `scenario list` and `scenario run NAME...|--all`: exit 0 only when every
// step of every scenario met its expectation.
func scenarioCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "run") {
		fmt.Fprintln(stderr, "usage: acr-emulator scenario list | scenario run NAME...|--all [--emulator URL] [--ca FILE]")
		return 2
	}
	if args[0] == "list" {
		for _, s := range catalog.All() {
			fmt.Fprintf(stdout, "%-24s %s\n", s.Name, s.Summary)
		}
		return 0
	}
	cfg := scenarios.DefaultConfig()
	fs := flag.NewFlagSet("acr-emulator scenario run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	all := fs.Bool("all", false, "run every scenario")
	fs.StringVar(&cfg.Emulator, "emulator", env("ACR_EMULATOR_URL", cfg.Emulator), "the emulator's main HTTPS URL (ACR_EMULATOR_URL)")
	fs.StringVar(&cfg.CAFile, "ca", env("ACR_EMULATOR_CA", ""), "the emulator's ca.pem (ACR_EMULATOR_CA); default: fetched from the emulator (GET /_emulator/ca.pem, trusted on first use)")
	// Flags may come before or after the names.
	var names []string
	rest := args[1:]
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		rest = fs.Args()
		if len(rest) > 0 {
			names, rest = append(names, rest[0]), rest[1:]
		}
	}
	var run []scenarios.Scenario
	if *all {
		run = catalog.All()
	}
	for _, n := range names {
		s, ok := catalog.Find(n)
		if !ok {
			fmt.Fprintf(stderr, "acr-emulator: unknown scenario %q (try: acr-emulator scenario list)\n", n)
			return 2
		}
		run = append(run, s)
	}
	if len(run) == 0 {
		fmt.Fprintln(stderr, "acr-emulator: name scenarios to run, or --all")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if cfg.CAFile == "" {
		pem, err := fetchCA(ctx, cfg.Emulator)
		if err != nil {
			fmt.Fprintf(stderr, "acr-emulator: %v (or pass --ca with the emulator's ca.pem)\n", err)
			return 1
		}
		path, remove, err := writeTemp(pem)
		if err != nil {
			fmt.Fprintln(stderr, "acr-emulator:", err)
			return 1
		}
		defer remove()
		cfg.CAFile = path
		fmt.Fprintf(stderr, "Using the CA served by %s/_emulator/ca.pem, trusted on first use (pass --ca to verify against a file you trust).\n", cfg.Emulator)
	}
	session, err := scenarios.NewSession(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "acr-emulator:", err)
		return 1
	}
	failed, skipped := 0, 0
	for _, s := range run {
		switch res := scenarios.Run(ctx, session, s, stdout); {
		case res.Skipped:
			skipped++
		case !res.Passed:
			failed++
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed", len(run)-failed-skipped, failed)
	if skipped > 0 {
		fmt.Fprintf(stdout, ", %d skipped", skipped)
	}
	fmt.Fprintln(stdout)
	if failed > 0 {
		return 1
	}
	return 0
}
