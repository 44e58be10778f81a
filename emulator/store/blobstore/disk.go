package blobstore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/opencontainers/go-digest"
)

// diskMarker names a directory NewDisk owns, so it never empties one it did not make.
const diskMarker = ".acr-emulator-blobs"

// diskBuffer is how much of a body an upload reads before writing it to its file: a few large
// writes instead of one per network read.
const diskBuffer = 1 << 20

// ErrForeignDir refuses a blob directory that holds something other than an earlier store's
// files: NewDisk empties its directory, and must not empty a mistyped one.
var ErrForeignDir = errors.New("is not empty and is not an acr-emulator blob directory (it has no " + diskMarker + "): refusing to empty it")

// NewDisk returns an empty store keeping content as files in dir, created when missing: each
// blob is dir/<algorithm>/<hex>, each unfinished upload a file in dir/uploads. The directory
// is emptied first (blobs do not outlive the process; a snapshot keeps them), and refused
// (ErrForeignDir) when it holds anything but a store's files. Reference counts stay in memory.
func NewDisk(dir string, opts ...Option) (*Store, error) {
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "uploads"), 0o755); err != nil {
		return nil, err
	}
	return newStore(&disk{dir: dir}, opts), nil
}

// prepareDir makes dir an empty store directory.
func prepareDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	case err != nil:
		return err
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(dir, diskMarker)); err != nil {
			return fmt.Errorf("blob directory %s %w", dir, ErrForeignDir)
		}
		for _, e := range entries {
			if e.Name() == diskMarker {
				continue
			}
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return os.WriteFile(filepath.Join(dir, diskMarker), []byte("acr-emulator keeps blobs here; it empties this directory when it starts\n"), 0o644)
}

type disk struct{ dir string }

func (d *disk) path(dg digest.Digest) string {
	return filepath.Join(d.dir, dg.Algorithm().String(), dg.Encoded())
}

// place moves a finished file to d's path.
func (d *disk) place(tmp string, dg digest.Digest) (string, error) {
	p := d.path(dg)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	return p, os.Rename(tmp, p)
}

func (d *disk) put(dg digest.Digest, data []byte) (content, error) {
	f, err := os.CreateTemp(filepath.Join(d.dir, "uploads"), "put-")
	if err != nil {
		return nil, err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		var p string
		if p, err = d.place(f.Name(), dg); err == nil {
			return &diskContent{path: p, n: int64(len(data))}, nil
		}
	}
	_ = os.Remove(f.Name())
	return nil, err
}

func (d *disk) newSink(b *budget) (sink, error) {
	f, err := os.CreateTemp(filepath.Join(d.dir, "uploads"), "upload-")
	if err != nil {
		return nil, err
	}
	return &diskSink{budget: b, f: f}, nil
}

func (d *disk) finish(s sink, dg digest.Digest) (content, error) {
	ds := s.(*diskSink)
	if err := ds.flush(); err != nil {
		return nil, err
	}
	if err := ds.f.Close(); err != nil {
		return nil, err
	}
	p, err := d.place(ds.f.Name(), dg)
	if err != nil {
		return nil, err
	}
	ds.budget.free(ds.reserved)
	ds.reserved, ds.f = 0, nil
	return &diskContent{path: p, n: ds.flushed}, nil
}

// link hard-links a file holding d's bytes (a snapshot's, another store's) into place. Any
// failure (another file system, no hard links) leaves the copy to the caller.
func (d *disk) link(dg digest.Digest, src string, size int64) (content, bool, error) {
	st, err := os.Stat(src)
	if err != nil || !st.Mode().IsRegular() || st.Size() != size {
		return nil, false, nil
	}
	p := d.path(dg)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, false, err
	}
	_ = os.Remove(p)
	if err := os.Link(src, p); err != nil {
		return nil, false, nil
	}
	return &diskContent{path: p, n: size}, true, nil
}

type diskContent struct {
	path string
	n    int64
}

func (c *diskContent) size() int64 { return c.n }

func (c *diskContent) open() (*Blob, error) {
	f, err := os.Open(c.path)
	if err != nil {
		return nil, err
	}
	return &Blob{n: c.n, f: f}, nil
}

// remove unlinks the file; handles already open keep reading it (POSIX semantics).
func (c *diskContent) remove() { _ = os.Remove(c.path) }

var bufPool = sync.Pool{New: func() any { b := make([]byte, diskBuffer); return &b }}

// diskSink is an upload's file and the part of the body read since its last write. Every byte
// the upload may hold (in the file and in the buffer) is reserved in the budget.
type diskSink struct {
	budget   *budget
	f        *os.File
	flushed  int64   // bytes in the file
	buf      *[]byte // pooled; (*buf)[:n] read since the last write
	n        int
	reserved int64
}

func (s *diskSink) room(want int64) ([]byte, error) {
	if s.buf == nil {
		s.buf, s.n = bufPool.Get().(*[]byte), 0
	}
	if s.n == len(*s.buf) {
		if err := s.write(); err != nil {
			return nil, err
		}
	}
	room := (*s.buf)[s.n:]
	if want > 0 && int64(len(room)) > want {
		room = room[:want]
	}
	if need := s.size() + int64(len(room)) - s.reserved; need > 0 {
		if err := s.budget.reserve(need); err != nil {
			return nil, err
		}
		s.reserved += need
	}
	return room, nil
}

func (s *diskSink) wrote(n int) error { s.n += n; return nil }

// write appends the buffered bytes to the file.
func (s *diskSink) write() error {
	if s.buf == nil || s.n == 0 {
		return nil
	}
	if _, err := s.f.WriteAt((*s.buf)[:s.n], s.flushed); err != nil {
		return err
	}
	s.flushed += int64(s.n)
	s.n = 0
	return nil
}

// flush writes what is buffered and gives the buffer back: an idle session holds none.
func (s *diskSink) flush() error {
	if err := s.write(); err != nil {
		return err
	}
	if s.buf != nil {
		bufPool.Put(s.buf)
		s.buf = nil
	}
	return nil
}

func (s *diskSink) size() int64 { return s.flushed + int64(s.n) }

func (s *diskSink) fits(n int64) bool { return s.budget.fits(n - (s.reserved - s.size())) }

func (s *diskSink) truncate(n int64) error {
	if n >= s.flushed {
		s.n = int(n - s.flushed)
	} else {
		s.n = 0
		if err := s.f.Truncate(n); err != nil {
			return err
		}
		s.flushed = n
	}
	if extra := s.reserved - n; extra > 0 {
		s.budget.free(extra)
		s.reserved = n
	}
	return nil
}

func (s *diskSink) reader() io.Reader {
	if err := s.write(); err != nil {
		return iotestErr{err}
	}
	return io.NewSectionReader(s.f, 0, s.flushed)
}

func (s *diskSink) discard() {
	if s.buf != nil {
		bufPool.Put(s.buf)
		s.buf = nil
	}
	if s.f != nil {
		_ = s.f.Close()
		_ = os.Remove(s.f.Name())
		s.f = nil
	}
	s.budget.free(s.reserved)
	s.reserved = 0
}

// iotestErr is a reader that fails with err.
type iotestErr struct{ err error }

func (r iotestErr) Read([]byte) (int, error) { return 0, r.err }
