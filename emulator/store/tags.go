package store

import (
	"github.com/hashicorp/go-memdb"
	"github.com/opencontainers/go-digest"
)

// GetTag returns a tag, nil when absent.
func (s *Store) GetTag(registry, repo, name string) (*Tag, error) {
	return first[Tag](s.db.Txn(false), TableTags, indexID, registry, repo, name)
}

// ListTags returns the repository's tags in lexical order.
func (s *Store) ListTags(registry, repo string) ([]*Tag, error) {
	return all[Tag](s.db.Txn(false), TableTags, indexID+"_prefix", registry, repo, "")
}

// TagsOf returns the tags pointing at manifest d, in lexical order.
func (s *Store) TagsOf(registry, repo string, d digest.Digest) ([]*Tag, error) {
	return all[Tag](s.db.Txn(false), TableTags, indexDigest, registry, repo, string(d))
}

// DeleteTag removes a tag (the manifest stays). A repository locked against deletes protects
// its tags, as it protects its manifests.
func (s *Store) DeleteTag(registry, repo, name string) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		t, err := first[Tag](txn, TableTags, indexID, registry, repo, name)
		if err != nil {
			return nil, err
		}
		if t == nil {
			return nil, ErrTagNotFound
		}
		r, err := first[Repository](txn, TableRepositories, indexID, registry, repo)
		if err != nil {
			return nil, err
		}
		if !deletable(t.Attrs) || (r != nil && !deletable(r.Attrs)) {
			return nil, ErrDeleteDisabled
		}
		return nil, txn.Delete(TableTags, t)
	})
}

// UpdateTagAttributes applies a changeableAttributes patch to a tag.
func (s *Store) UpdateTagAttributes(registry, repo, name string, p AttributesPatch) (*Tag, error) {
	return updateAttributes[Tag](s, TableTags, ErrTagNotFound, p, registry, repo, name)
}
