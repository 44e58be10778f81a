// Package snapshot writes and reads the whole state of an emulator as a directory: its world,
// every record of its store with the bytes of every manifest and blob, and its ACR tasks, so
// that a demo or a test starts from it in one step (acr-emulator --snapshot DIR).
//
// The format is internal and versioned, not a contract: an emulator reads the version it
// writes and refuses others, and nothing else should read or write it. Version 1 is
//
//	DIR/snapshot.json          {"format":"acr-emulator snapshot","version":1,"created":...,
//	                            "world":{...},"state":{...store records...},"tasks":[...]}
//	DIR/blobs/sha256/<hex>     the bytes of each manifest and blob, once each
//
// Not in a snapshot: upload sessions, task runs and their logs, the simulated services'
// resources (container groups, ML workspaces, web apps, scan results), the audit, and the
// emulator's own service identities (each process makes its own).
package snapshot

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/opencontainers/go-digest"
)

// Format and Version name what this package writes and reads.
const (
	Format  = "acr-emulator snapshot"
	Version = 1
)

// ErrOccupied refuses to write a snapshot over a directory holding something else.
var ErrOccupied = errors.New("not empty and holds no snapshot: refusing to replace it")

// Bounds on what Read takes in.
const (
	maxHeaderBytes = 256 << 20
	headerName     = "snapshot.json"
)

// Snapshot is an emulator's state.
type Snapshot struct {
	World *world.World
	State *store.Dump
	// Tasks are the ACR tasks as ACR Tasks' API answers them.
	Tasks []json.RawMessage
}

type header struct {
	Format  string            `json:"format"`
	Version int               `json:"version"`
	Created time.Time         `json:"created"`
	World   *world.World      `json:"world"`
	State   *store.Dump       `json:"state"`
	Tasks   []json.RawMessage `json:"tasks"`
}

func blobName(d digest.Digest) string { return path.Join("blobs", d.Algorithm().String(), d.Encoded()) }

// Blobs counts the manifests' and blobs' contents a snapshot holds, and their bytes.
func (s *Snapshot) Blobs() (count int, bytes int64) {
	for _, n := range s.State.Sizes() {
		count++
		bytes += n
	}
	return count, bytes
}

// Close lets go of what the state's dump keeps in the store it came from.
func (s *Snapshot) Close() { s.State.Close() }

// header encodes the snapshot's snapshot.json.
func (s *Snapshot) header() ([]byte, error) {
	return json.MarshalIndent(header{Format: Format, Version: Version, Created: time.Now().UTC(), World: s.World, State: s.State, Tasks: s.Tasks}, "", "  ")
}

// blobs lists the contents to write, in a stable order.
func (s *Snapshot) blobs() ([]digest.Digest, map[digest.Digest]int64, error) {
	sizes := s.State.Sizes()
	out := make([]digest.Digest, 0, len(sizes))
	for d := range sizes {
		if err := d.Validate(); err != nil {
			return nil, nil, err
		}
		out = append(out, d)
	}
	slices.Sort(out)
	if len(out) > 0 && s.State.Content == nil {
		return nil, nil, errors.New("snapshot: the state has no content to write")
	}
	return out, sizes, nil
}

// copyBlob writes d's size bytes from the state's content to w.
func (s *Snapshot) copyBlob(w io.Writer, d digest.Digest, size int64) error {
	r, err := s.State.Content.Open(d)
	if err != nil {
		return err
	}
	defer r.Close()
	n, err := io.Copy(w, r)
	if err == nil && n != size {
		err = fmt.Errorf("snapshot: %s holds %d bytes, %d recorded", d, n, size)
	}
	return err
}

// Write saves s as the directory dir: a new one, an empty one, or an older snapshot, which it
// replaces whole (written beside it, then renamed), so a failed write leaves the old one.
// Contents stream from the state's store; a file of an on-disk store is hard-linked instead
// when the snapshot is on its file system (its files never change: they are named by digest).
func Write(dir string, s *Snapshot) error {
	h, err := s.header()
	if err != nil {
		return err
	}
	digests, sizes, err := s.blobs()
	if err != nil {
		return err
	}
	return replaceDir(dir, func(tmp string) error {
		if err := os.WriteFile(filepath.Join(tmp, headerName), h, 0o644); err != nil {
			return err
		}
		for _, d := range digests {
			p := filepath.Join(tmp, filepath.FromSlash(blobName(d)))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := s.writeBlob(p, d, sizes[d]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Snapshot) writeBlob(p string, d digest.Digest, size int64) error {
	r, err := s.State.Content.Open(d)
	if err != nil {
		return err
	}
	f, ok := r.(interface{ Name() string })
	linked := ok && f.Name() != "" && os.Link(f.Name(), p) == nil
	_ = r.Close()
	if linked {
		return nil
	}
	out, err := os.Create(p)
	if err != nil {
		return err
	}
	err = s.copyBlob(out, d, size)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// replaceDir fills a fresh directory beside dir with fill, then puts it in dir's place.
func replaceDir(dir string, fill func(tmp string) error) error {
	dir = filepath.Clean(dir)
	existing := false
	switch entries, err := os.ReadDir(dir); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case len(entries) == 0:
	default:
		if _, err := os.Stat(filepath.Join(dir, headerName)); err != nil {
			return fmt.Errorf("%s: %w", dir, ErrOccupied)
		}
		existing = true
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := fill(tmp); err != nil {
		return err
	}
	if existing {
		old := dir + ".old-" + randomSuffix()
		if err := os.Rename(dir, old); err != nil {
			return err
		}
		defer os.RemoveAll(old)
	} else if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Rename(tmp, dir)
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// WriteTar writes s as a tar stream of the same files (what GET /_emulator/snapshot answers),
// streaming each content from the state's store.
func WriteTar(w io.Writer, s *Snapshot) error {
	h, err := s.header()
	if err != nil {
		return err
	}
	digests, sizes, err := s.blobs()
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	now := time.Now()
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: headerName, Mode: 0o644, Size: int64(len(h)), ModTime: now}); err != nil {
		return err
	}
	if _, err := tw.Write(h); err != nil {
		return err
	}
	for _, d := range digests {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: blobName(d), Mode: 0o644, Size: sizes[d], ModTime: now}); err != nil {
			return err
		}
		if err := s.copyBlob(tw, d, sizes[d]); err != nil {
			return err
		}
	}
	return tw.Close()
}

var entryRE = regexp.MustCompile(`^(snapshot\.json|blobs/sha256/[a-f0-9]{64})$`)

// Extract writes a tar stream from WriteTar as the directory dir (as Write does), and checks
// it reads back as a snapshot, which it returns. Entries other than a snapshot's files are
// refused, so a tar cannot write outside dir.
func Extract(r io.Reader, dir string) (*Snapshot, error) {
	var snap *Snapshot
	err := replaceDir(dir, func(tmp string) error {
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("snapshot stream: %v", err)
			}
			if h.Typeflag != tar.TypeReg || !entryRE.MatchString(h.Name) {
				return fmt.Errorf("snapshot stream: unexpected entry %q", h.Name)
			}
			p := filepath.Join(tmp, filepath.FromSlash(h.Name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.Create(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
		var err error
		snap, err = Read(tmp)
		return err
	})
	return snap, err
}

// Read loads the snapshot in dir, checking its format and version, its world, and that every
// manifest and blob the state refers to is there with the bytes of its digest.
func Read(dir string) (*Snapshot, error) {
	hp := filepath.Join(dir, headerName)
	f, err := os.Open(hp)
	if err != nil {
		return nil, fmt.Errorf("not a snapshot: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxHeaderBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxHeaderBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB", hp, maxHeaderBytes>>20)
	}
	var h header
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("%s: %v", hp, err)
	}
	switch {
	case h.Format != Format:
		return nil, fmt.Errorf("%s: not an acr-emulator snapshot (format %q)", hp, h.Format)
	case h.Version != Version:
		return nil, fmt.Errorf("%s: snapshot version %d; this acr-emulator reads version %d only (snapshots are internal: save a new one)", hp, h.Version, Version)
	case h.World == nil || h.State == nil:
		return nil, fmt.Errorf("%s: world or state missing", hp)
	}
	if err := h.World.Revalidate(hp + " (world)"); err != nil {
		return nil, err
	}
	for d, size := range h.State.Sizes() {
		if err := checkBlob(dir, d, size); err != nil {
			return nil, err
		}
	}
	h.State.Content = files(dir)
	return &Snapshot{World: h.World, State: h.State, Tasks: h.Tasks}, nil
}

// checkBlob verifies, streaming, that the snapshot holds d's size bytes.
func checkBlob(dir string, d digest.Digest, size int64) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("snapshot: digest %q: %v", d, err)
	}
	p := filepath.Join(dir, filepath.FromSlash(blobName(d)))
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer f.Close()
	v := d.Verifier()
	n, err := io.Copy(v, io.LimitReader(f, size+1))
	if err != nil {
		return err
	}
	if n != size || !v.Verified() {
		return fmt.Errorf("snapshot: %s does not hold %s (%d bytes)", p, d, size)
	}
	return nil
}

// files is a snapshot directory's content: its files, which a store on the same file system
// links rather than copies.
type files string

func (dir files) Open(d digest.Digest) (io.ReadCloser, error) {
	return os.Open(filepath.Join(string(dir), filepath.FromSlash(blobName(d))))
}
