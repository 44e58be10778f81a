package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/acr-emulator/acr-emulator/emulator/store/blobstore"
	"github.com/hashicorp/go-memdb"
	"github.com/opencontainers/go-digest"
)

// GetBlobLink returns the repository's link to a blob, nil when the repository cannot serve it.
func (s *Store) GetBlobLink(registry, repo string, d digest.Digest) (*BlobLink, error) {
	return first[BlobLink](s.db.Txn(false), TableBlobLinks, indexID, registry, repo, string(d))
}

// link inserts a blob link unless one exists, and reports whether it consumed the caller's
// reference (false: the caller must release it).
func (s *Store) link(txn *memdb.Txn, registry, repo string, d digest.Digest, size int64) (bool, error) {
	existing, err := first[BlobLink](txn, TableBlobLinks, indexID, registry, repo, string(d))
	if err != nil || existing != nil {
		return false, err
	}
	r, err := s.ensureRepository(txn, registry, repo)
	if err != nil {
		return false, err
	}
	if !r.Attrs.WriteEnabled {
		return false, ErrWriteDisabled
	}
	l := &BlobLink{Registry: registry, Repo: repo, Digest: d, Size: size, CreatedAt: s.now()}
	return true, txn.Insert(TableBlobLinks, l)
}

// PutBlob stores verified bytes for d and links them into the repository.
func (s *Store) PutBlob(registry, repo string, d digest.Digest, data []byte) error {
	s.quiesce.RLock()
	defer s.quiesce.RUnlock()
	if err := s.blobs.Put(d, data); err != nil {
		return err
	}
	return s.linkHeld(registry, repo, d, int64(len(data)))
}

// PutUploadedBlob stores an upload that is not a session (a monolithic POST) as blob d, which
// the caller verified, and links it into the repository.
func (s *Store) PutUploadedBlob(registry, repo string, d digest.Digest, u *blobstore.Upload) error {
	size := u.Size()
	s.quiesce.RLock()
	defer s.quiesce.RUnlock()
	if err := s.blobs.Commit(u, d); err != nil {
		return err
	}
	return s.linkHeld(registry, repo, d, size)
}

// linkHeld links d, whose reference the caller holds (and quiesce with it), into the
// repository, giving the reference back when the link exists already or cannot be made.
func (s *Store) linkHeld(registry, repo string, d digest.Digest, size int64) error {
	return s.commit(func(txn *memdb.Txn) ([]digest.Digest, error) {
		used, err := s.link(txn, registry, repo, d, size)
		if err != nil || !used {
			s.blobs.Release(d)
		}
		return nil, err
	})
}

// MountBlob links a blob the registry already holds into repo. from names the source repository;
// "" mounts from any repository of the registry (the OCI anonymous mount). It reports false when
// the source does not have the blob.
func (s *Store) MountBlob(registry, from, repo string, d digest.Digest) (*BlobLink, error) {
	var out *BlobLink
	err := s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		var src *BlobLink
		var err error
		if from != "" {
			src, err = first[BlobLink](txn, TableBlobLinks, indexID, registry, from, string(d))
		} else {
			src, err = first[BlobLink](txn, TableBlobLinks, indexDigest, registry, string(d))
		}
		if err != nil || src == nil {
			return nil, err
		}
		// The source link holds a reference and cannot vanish inside this transaction.
		if !s.blobs.Acquire(d) {
			return nil, fmt.Errorf("store: blob %s linked but not held", d)
		}
		used, err := s.link(txn, registry, repo, d, src.Size)
		if err != nil || !used {
			s.blobs.Release(d)
		}
		out = src
		return nil, err
	})
	return out, err
}

// DeleteBlob unlinks a blob from the repository.
func (s *Store) DeleteBlob(registry, repo string, d digest.Digest) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		l, err := first[BlobLink](txn, TableBlobLinks, indexID, registry, repo, string(d))
		if err != nil {
			return nil, err
		}
		if l == nil {
			return nil, ErrBlobNotFound
		}
		r, err := first[Repository](txn, TableRepositories, indexID, registry, repo)
		if err != nil {
			return nil, err
		}
		if r != nil && !deletable(r.Attrs) {
			return nil, ErrDeleteDisabled
		}
		return []digest.Digest{d}, txn.Delete(TableBlobLinks, l)
	})
}

// CreateUpload opens an upload session whose body may grow to limit bytes.
func (s *Store) CreateUpload(registry, repo string, limit int64) (*Upload, error) {
	data, err := s.blobs.NewUpload(limit)
	if err != nil {
		return nil, err
	}
	u := &Upload{ID: ids.NewGUID(), Registry: registry, Repo: repo, StartedAt: s.now(), Data: data}
	err = s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		return nil, txn.Insert(TableUploads, u)
	})
	if err != nil {
		data.Discard()
	}
	return u, err
}

// GetUpload returns the session when it belongs to the registry and repository, nil otherwise.
func (s *Store) GetUpload(registry, repo, id string) (*Upload, error) {
	u, err := first[Upload](s.db.Txn(false), TableUploads, indexID, id)
	if err != nil || u == nil || u.Registry != registry || u.Repo != repo {
		return nil, err
	}
	return u, nil
}

// CompleteUpload closes the session and stores its bytes as blob d, which the caller verified.
func (s *Store) CompleteUpload(u *Upload, d digest.Digest) error {
	size := u.Data.Size()
	s.quiesce.RLock()
	defer s.quiesce.RUnlock()
	if err := s.blobs.Commit(u.Data, d); err != nil {
		if errors.Is(err, blobstore.ErrUploadClosed) {
			err = ErrUploadNotFound // cancelled or expired meanwhile
		}
		return err
	}
	return s.commit(func(txn *memdb.Txn) ([]digest.Digest, error) {
		cur, err := first[Upload](txn, TableUploads, indexID, u.ID)
		if err != nil || cur == nil {
			s.blobs.Release(d)
			if err == nil {
				err = ErrUploadNotFound
			}
			return nil, err
		}
		if err := txn.Delete(TableUploads, cur); err != nil {
			s.blobs.Release(d)
			return nil, err
		}
		used, err := s.link(txn, u.Registry, u.Repo, d, size)
		if err != nil || !used {
			s.blobs.Release(d)
		}
		return nil, err
	})
}

// DeleteUpload cancels a session and frees what it held.
func (s *Store) DeleteUpload(id string) error {
	return s.dropUploads(func(u *Upload) bool { return u.ID == id }, func(n int) error {
		if n == 0 {
			return ErrUploadNotFound
		}
		return nil
	})
}

// PurgeUploads drops sessions idle (no chunk received, nothing asked) since before cutoff,
// bounding what abandoned pushes hold.
func (s *Store) PurgeUploads(cutoff time.Time) (int, error) {
	n := 0
	err := s.dropUploads(func(u *Upload) bool { return u.Data.Idle().Before(cutoff) }, func(k int) error { n = k; return nil })
	return n, err
}

// dropUploads deletes the sessions drop selects in one transaction and, once committed, frees
// their bytes; done sees how many went and may refuse the transaction.
func (s *Store) dropUploads(drop func(*Upload) bool, done func(n int) error) error {
	var gone []*Upload
	err := s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		var err error
		if gone, err = deleteUploads(txn, drop); err != nil {
			return nil, err
		}
		return nil, done(len(gone))
	})
	if err == nil {
		for _, u := range gone {
			u.Data.Discard()
		}
	}
	return err
}

// deleteUploads deletes the sessions drop selects; the caller frees them after the commit.
func deleteUploads(txn *memdb.Txn, drop func(*Upload) bool) ([]*Upload, error) {
	uploads, err := all[Upload](txn, TableUploads, indexID)
	if err != nil {
		return nil, err
	}
	var gone []*Upload
	for _, u := range uploads {
		if drop(u) {
			if err := txn.Delete(TableUploads, u); err != nil {
				return nil, err
			}
			gone = append(gone, u)
		}
	}
	return gone, nil
}
