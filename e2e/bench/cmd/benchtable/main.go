// Command benchtable is `make bench`: it measures acr-emulator, go-containerregistry's registry
// and distribution's registry side by side in one run (e2e/bench), prints the table with every
// ratio, and writes it as markdown and an SVG chart for the README.
//
//	go run ./e2e/bench/cmd/benchtable -bin bin/acr-emulator -readme README.md
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"

	"github.com/acr-emulator/acr-emulator/e2e/bench"
)

const (
	beginMarker = "<!-- bench:begin (make bench writes this part) -->"
	endMarker   = "<!-- bench:end -->"
)

func main() {
	rounds := flag.Int("rounds", 3, "runs of every case per registry (the median is reported)")
	scale := flag.Int64("scale", 1, "divide every size by this (a quick smoke run; figures are then not comparable)")
	bin := flag.String("bin", "", "acr-emulator binary for cold start and the on-disk 2 GiB image (skipped when empty)")
	out := flag.String("out", "e2e/bench/results", "directory for results.md and throughput.svg")
	readme := flag.String("readme", "", "README to update between its bench markers (none when empty)")
	kinds := flag.String("registries", "", "comma-separated subset of: "+kindList())
	only := flag.String("only", "", "run only the throughput cases whose names contain this, nothing else")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (client and in-process registries)")
	flag.Parse()

	cfg := bench.Config{Rounds: *rounds, Scale: *scale, Bin: *bin, Progress: os.Stderr, Only: *only}
	if *kinds != "" {
		for _, k := range strings.Split(*kinds, ",") {
			cfg.Kinds = append(cfg.Kinds, bench.Kind(strings.TrimSpace(k)))
		}
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		fail(err)
	}
	fmt.Println()
	rep.Write(os.Stdout, false, "")
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fail(err)
	}
	var svg, md bytes.Buffer
	rep.SVG(&svg)
	chart := filepath.ToSlash(filepath.Join(*out, "throughput.svg"))
	rep.Write(&md, true, chart)
	for name, b := range map[string][]byte{"throughput.svg": svg.Bytes(), "results.md": md.Bytes()} {
		if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
			fail(err)
		}
	}
	fmt.Fprintf(os.Stderr, "wrote %s and %s\n", filepath.Join(*out, "results.md"), chart)
	if *readme != "" {
		if err := splice(*readme, md.String()); err != nil {
			fail(err)
		}
		fmt.Fprintf(os.Stderr, "updated %s\n", *readme)
	}
}

// splice replaces the README's text between the bench markers.
func splice(path, md string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %q ... %q section", path, beginMarker, endMarker)
	}
	s = s[:i+len(beginMarker)] + "\n" + md + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

func kindList() string {
	var s []string
	for _, k := range bench.Kinds {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchtable:", err)
	os.Exit(1)
}
