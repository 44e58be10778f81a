package store

import (
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/opencontainers/go-digest"
)

// GetManifest returns a manifest by digest, nil when absent.
func (s *Store) GetManifest(registry, repo string, d digest.Digest) (*Manifest, error) {
	return first[Manifest](s.db.Txn(false), TableManifests, indexID, registry, repo, string(d))
}

// ListManifests returns the repository's manifests ordered by digest.
func (s *Store) ListManifests(registry, repo string) ([]*Manifest, error) {
	return all[Manifest](s.db.Txn(false), TableManifests, indexID+"_prefix", registry, repo, "")
}

// Referrers returns the manifests whose subject is d.
func (s *Store) Referrers(registry, repo string, d digest.Digest) ([]*Manifest, error) {
	return all[Manifest](s.db.Txn(false), TableManifests, indexSubject, registry, repo, string(d))
}

// ManifestBytes returns the stored bytes of a manifest (read-only).
func (s *Store) ManifestBytes(d digest.Digest) ([]byte, bool) { return s.blobs.Get(d) }

// PutManifest stores a manifest (its metadata m, verified bytes body) and points tags at it, in
// one transaction. Every blob in m.Blobs and every child in m.Manifests must already be in the
// repository (a *MissingReferenceError otherwise); nothing is stored on any error.
// Re-pushing an existing digest keeps its creation time and attributes.
func (s *Store) PutManifest(m *Manifest, body []byte, tags []string, required func(Descriptor) bool) error {
	s.quiesce.RLock()
	defer s.quiesce.RUnlock()
	if err := s.blobs.Put(m.Digest, body); err != nil {
		return err
	}
	keepRef := false
	err := s.commit(func(txn *memdb.Txn) ([]digest.Digest, error) {
		repo, err := s.ensureRepository(txn, m.Registry, m.Repo)
		if err != nil {
			return nil, err
		}
		if !repo.Attrs.WriteEnabled {
			return nil, ErrWriteDisabled
		}
		for _, b := range m.Blobs {
			if required != nil && !required(b) {
				continue
			}
			l, err := first[BlobLink](txn, TableBlobLinks, indexID, m.Registry, m.Repo, string(b.Digest))
			if err != nil {
				return nil, err
			}
			if l == nil {
				return nil, &MissingReferenceError{Digest: b.Digest}
			}
		}
		for _, c := range m.Manifests {
			child, err := first[Manifest](txn, TableManifests, indexID, m.Registry, m.Repo, string(c.Digest))
			if err != nil {
				return nil, err
			}
			if child == nil {
				return nil, &MissingReferenceError{Digest: c.Digest, Manifest: true}
			}
		}
		now := s.now()
		existing, err := first[Manifest](txn, TableManifests, indexID, m.Registry, m.Repo, string(m.Digest))
		if err != nil {
			return nil, err
		}
		if existing == nil {
			rec := m.Copy()
			rec.CreatedAt, rec.UpdatedAt, rec.Attrs = now, now, DefaultAttributes()
			if err := txn.Insert(TableManifests, rec); err != nil {
				return nil, err
			}
			keepRef = true
		}
		for _, name := range tags {
			if err := s.setTag(txn, m.Registry, m.Repo, name, m.Digest, now); err != nil {
				return nil, err
			}
		}
		return nil, s.touchRepository(txn, repo)
	})
	if !keepRef {
		s.blobs.Release(m.Digest)
	}
	return err
}

// setTag points a tag at d, refusing to move a tag locked with writeEnabled=false.
func (s *Store) setTag(txn *memdb.Txn, registry, repo, name string, d digest.Digest, t time.Time) error {
	existing, err := first[Tag](txn, TableTags, indexID, registry, repo, name)
	if err != nil {
		return err
	}
	if existing != nil {
		if existing.Digest == d {
			return nil
		}
		if !existing.Attrs.WriteEnabled {
			return ErrWriteDisabled
		}
		c := existing.Copy()
		c.Digest, c.UpdatedAt = d, t
		return txn.Insert(TableTags, c)
	}
	return txn.Insert(TableTags, &Tag{Registry: registry, Repo: repo, Name: name, Digest: d, CreatedAt: t, UpdatedAt: t, Attrs: DefaultAttributes()})
}

// DeleteManifest removes a manifest and every tag pointing at it, and returns the removed tags.
func (s *Store) DeleteManifest(registry, repo string, d digest.Digest) ([]string, error) {
	var removed []string
	err := s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		r, err := first[Repository](txn, TableRepositories, indexID, registry, repo)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, ErrRepositoryNotFound
		}
		m, err := first[Manifest](txn, TableManifests, indexID, registry, repo, string(d))
		if err != nil {
			return nil, err
		}
		if m == nil {
			return nil, ErrManifestNotFound
		}
		if !deletable(r.Attrs) || !deletable(m.Attrs) {
			return nil, ErrDeleteDisabled
		}
		tags, err := all[Tag](txn, TableTags, indexDigest, registry, repo, string(d))
		if err != nil {
			return nil, err
		}
		for _, t := range tags {
			if !deletable(t.Attrs) {
				return nil, ErrDeleteDisabled
			}
			if err := txn.Delete(TableTags, t); err != nil {
				return nil, err
			}
			removed = append(removed, t.Name)
		}
		if err := txn.Delete(TableManifests, m); err != nil {
			return nil, err
		}
		return []digest.Digest{d}, s.touchRepository(txn, r)
	})
	return removed, err
}

// UpdateManifestAttributes applies a changeableAttributes patch to a manifest.
func (s *Store) UpdateManifestAttributes(registry, repo string, d digest.Digest, p AttributesPatch) (*Manifest, error) {
	return updateAttributes[Manifest](s, TableManifests, ErrManifestNotFound, p, registry, repo, string(d))
}
