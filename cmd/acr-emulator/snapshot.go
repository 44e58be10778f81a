package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/snapshot"
	"github.com/acr-emulator/acr-emulator/emulator/world"
)

// loadSnapshot reads --snapshot DIR, which replaces a world file.
func loadSnapshot(o *serveOptions) (*snapshot.Snapshot, error) {
	if o.snapshot == "" {
		return nil, nil
	}
	if o.config != "" {
		return nil, fmt.Errorf("--snapshot and --config both given: a snapshot holds its world")
	}
	snap, err := snapshot.Read(o.snapshot)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return snap, nil
}

// checkBlobDir refuses a snapshot kept inside the blob directory, which is emptied at start
// (before the snapshot's blobs would be read back).
func checkBlobDir(o *serveOptions, w *world.World) error {
	dir := o.blobDir
	if dir == "" {
		dir = w.BlobDir
	}
	if dir == "" || o.snapshot == "" {
		return nil
	}
	bd, err1 := filepath.Abs(dir)
	sd, err2 := filepath.Abs(o.snapshot)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if rel, err := filepath.Rel(bd, sd); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("--snapshot %s is inside the blob directory %s, which is emptied at start: keep snapshots elsewhere", o.snapshot, dir)
	}
	return nil
}

// snapshotCmd serves `snapshot save DIR`: the running emulator streams its whole state
// (GET /_emulator/snapshot) and DIR receives it, so this works against an emulator in a
// container as well as a local one.
func snapshotCmd(args []string, stdout, stderr io.Writer) int {
	const use = "usage: acr-emulator snapshot save DIR [--emulator URL]"
	if len(args) == 0 || args[0] != "save" {
		fmt.Fprintln(stderr, use)
		return 2
	}
	fs := flag.NewFlagSet("acr-emulator snapshot save", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("emulator", env("ACR_EMULATOR_HTTP_URL", "http://localhost:8080"), "the emulator's plain HTTP listener (ACR_EMULATOR_HTTP_URL)")
	var dirs []string
	for rest := args[1:]; len(rest) > 0; {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if rest = fs.Args(); len(rest) > 0 {
			dirs, rest = append(dirs, rest[0]), rest[1:]
		}
	}
	if len(dirs) != 1 {
		fmt.Fprintln(stderr, use)
		return 2
	}
	res, err := http.Get(strings.TrimSuffix(*base, "/") + "/_emulator/snapshot")
	if err != nil {
		fmt.Fprintf(stderr, "acr-emulator: %v (is the emulator running? --emulator names its plain HTTP listener)\n", err)
		return 1
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		fmt.Fprintf(stderr, "acr-emulator: GET /_emulator/snapshot: %s %s\n", res.Status, strings.TrimSpace(string(b)))
		return 1
	}
	snap, err := snapshot.Extract(res.Body, dirs[0])
	if err != nil {
		fmt.Fprintln(stderr, "acr-emulator:", err)
		return 1
	}
	blobs, bytes := snap.Blobs()
	fmt.Fprintf(stdout, "Saved %d registries, %d repositories, %d tags, %d tasks and %d blobs (%d bytes) to %s.\n",
		len(snap.State.Registries), len(snap.State.Repositories), len(snap.State.Tags), len(snap.Tasks), blobs, bytes, dirs[0])
	fmt.Fprintf(stdout, "Start from it with: acr-emulator --snapshot %s\n", dirs[0])
	return 0
}
