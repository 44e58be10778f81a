package store

import (
	"github.com/hashicorp/go-memdb"
	"github.com/opencontainers/go-digest"
)

// GetRepository returns the repository, nil when absent.
func (s *Store) GetRepository(registry, name string) (*Repository, error) {
	return first[Repository](s.db.Txn(false), TableRepositories, indexID, registry, name)
}

// ListRepositories returns the registry's repositories in lexical order.
func (s *Store) ListRepositories(registry string) ([]*Repository, error) {
	return all[Repository](s.db.Txn(false), TableRepositories, indexID+"_prefix", registry, "")
}

// RepositoryCounts reports how many manifests and tags a repository has.
func (s *Store) RepositoryCounts(registry, name string) (manifests, tags int, err error) {
	txn := s.db.Txn(false)
	ms, err := all[Manifest](txn, TableManifests, indexID+"_prefix", registry, name, "")
	if err != nil {
		return 0, 0, err
	}
	ts, err := all[Tag](txn, TableTags, indexID+"_prefix", registry, name, "")
	return len(ms), len(ts), err
}

// ensureRepository returns the repository, creating it with default attributes when absent.
func (s *Store) ensureRepository(txn *memdb.Txn, registry, name string) (*Repository, error) {
	repo, err := first[Repository](txn, TableRepositories, indexID, registry, name)
	if err != nil || repo != nil {
		return repo, err
	}
	now := s.now()
	repo = &Repository{Registry: registry, Name: name, CreatedAt: now, UpdatedAt: now, Attrs: DefaultAttributes()}
	return repo, txn.Insert(TableRepositories, repo)
}

// touchRepository records a content change in the repository's lastUpdateTime.
func (s *Store) touchRepository(txn *memdb.Txn, repo *Repository) error {
	c := repo.Copy()
	c.UpdatedAt = s.now()
	return txn.Insert(TableRepositories, c)
}

// UpdateRepositoryAttributes applies a changeableAttributes patch.
func (s *Store) UpdateRepositoryAttributes(registry, name string, p AttributesPatch) (*Repository, error) {
	return updateAttributes[Repository](s, TableRepositories, ErrRepositoryNotFound, p, registry, name)
}

// DeletedRepository lists what a repository delete removed, as ACR reports it.
type DeletedRepository struct {
	ManifestsDeleted []digest.Digest
	TagsDeleted      []string
}

// DeleteRepository removes a repository with all its manifests, tags, blob links and uploads.
// It refuses when the repository, or any manifest or tag in it, is locked against deletes.
func (s *Store) DeleteRepository(registry, name string) (*DeletedRepository, error) {
	out := &DeletedRepository{ManifestsDeleted: []digest.Digest{}, TagsDeleted: []string{}}
	err := s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		repo, err := first[Repository](txn, TableRepositories, indexID, registry, name)
		if err != nil {
			return nil, err
		}
		if repo == nil {
			return nil, ErrRepositoryNotFound
		}
		if !deletable(repo.Attrs) {
			return nil, ErrDeleteDisabled
		}
		var releases []digest.Digest
		tags, err := all[Tag](txn, TableTags, indexID+"_prefix", registry, name, "")
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
			out.TagsDeleted = append(out.TagsDeleted, t.Name)
		}
		manifests, err := all[Manifest](txn, TableManifests, indexID+"_prefix", registry, name, "")
		if err != nil {
			return nil, err
		}
		for _, m := range manifests {
			if !deletable(m.Attrs) {
				return nil, ErrDeleteDisabled
			}
			if err := txn.Delete(TableManifests, m); err != nil {
				return nil, err
			}
			out.ManifestsDeleted = append(out.ManifestsDeleted, m.Digest)
			releases = append(releases, m.Digest)
		}
		links, err := all[BlobLink](txn, TableBlobLinks, indexID+"_prefix", registry, name, "")
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			if err := txn.Delete(TableBlobLinks, l); err != nil {
				return nil, err
			}
			releases = append(releases, l.Digest)
		}
		uploads, err := all[Upload](txn, TableUploads, indexID)
		if err != nil {
			return nil, err
		}
		for _, u := range uploads {
			if u.Registry == registry && u.Repo == name {
				if err := txn.Delete(TableUploads, u); err != nil {
					return nil, err
				}
			}
		}
		return releases, txn.Delete(TableRepositories, repo)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// deletable is ACR's rule: a delete needs both deleteEnabled and writeEnabled.
func deletable(a Attributes) bool { return a.DeleteEnabled && a.WriteEnabled }
