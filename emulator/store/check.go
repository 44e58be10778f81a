package store

import (
	"fmt"
	"sort"

	"github.com/opencontainers/go-digest"
)

// A Violation is one broken invariant of the store.
type Violation struct {
	Rule       string        `json:"rule"`
	Registry   string        `json:"registry,omitempty"`
	Repository string        `json:"repository,omitempty"`
	Digest     digest.Digest `json:"digest,omitempty"`
	Detail     string        `json:"detail"`
}

// The invariants Check verifies, by the Rule of their violations.
const (
	RuleTagResolves      = "tag-resolves"       // every tag names a manifest of its repository
	RuleManifestBlobs    = "manifest-blobs"     // every manifest's config and layers are linked in its repository
	RuleManifestChildren = "manifest-children"  // every index's children are manifests of its repository
	RuleContentHeld      = "content-held"       // every manifest and blob link has its bytes, of its size
	RuleReferenceCount   = "reference-count"    // each digest's reference count is the records that refer to it
	RuleBytesAccounted   = "bytes-accounted"    // the bytes held are the bytes of the digests referred to
	RuleNoOrphans        = "no-orphaned-digest" // no digest is held that no record refers to
)

// Check verifies the store's invariants and returns their violations (none: consistent). It
// waits for writes in flight to finish and holds new ones back while it reads, so its answer
// is exact: a write's references are taken before its commit and released after it.
func (s *Store) Check() ([]Violation, error) {
	s.quiesce.Lock()
	defer s.quiesce.Unlock()
	d, err := s.dumpRecords()
	if err != nil {
		return nil, err
	}
	var out []Violation
	add := func(v Violation) { out = append(out, v) }
	type repoKey struct{ registry, repo string }
	manifests := map[repoKey]map[digest.Digest]bool{}
	links := map[repoKey]map[digest.Digest]bool{}
	refs := map[digest.Digest]int{}
	sizes := map[digest.Digest]int64{}
	for _, m := range d.Manifests {
		k := repoKey{m.Registry, m.Repo}
		if manifests[k] == nil {
			manifests[k] = map[digest.Digest]bool{}
		}
		manifests[k][m.Digest] = true
		refs[m.Digest]++
		sizes[m.Digest] = m.Size
	}
	for _, l := range d.BlobLinks {
		k := repoKey{l.Registry, l.Repo}
		if links[k] == nil {
			links[k] = map[digest.Digest]bool{}
		}
		links[k][l.Digest] = true
		refs[l.Digest]++
		sizes[l.Digest] = l.Size
	}
	for _, t := range d.Tags {
		if !manifests[repoKey{t.Registry, t.Repo}][t.Digest] {
			add(Violation{Rule: RuleTagResolves, Registry: t.Registry, Repository: t.Repo, Digest: t.Digest,
				Detail: fmt.Sprintf("tag %q names a manifest the repository does not have", t.Name)})
		}
	}
	for _, m := range d.Manifests {
		k := repoKey{m.Registry, m.Repo}
		for _, b := range m.Blobs {
			if !b.Foreign && !links[k][b.Digest] {
				add(Violation{Rule: RuleManifestBlobs, Registry: m.Registry, Repository: m.Repo, Digest: m.Digest,
					Detail: fmt.Sprintf("refers to blob %s, which the repository does not link", b.Digest)})
			}
		}
		for _, c := range m.Manifests {
			if !manifests[k][c.Digest] {
				add(Violation{Rule: RuleManifestChildren, Registry: m.Registry, Repository: m.Repo, Digest: m.Digest,
					Detail: fmt.Sprintf("refers to manifest %s, which the repository does not have", c.Digest)})
			}
		}
	}
	var referred int64
	for _, dg := range sortedDigests(refs) {
		b, held := s.blobs.Get(dg)
		switch {
		case !held:
			add(Violation{Rule: RuleContentHeld, Digest: dg, Detail: "referred to by a record, but its bytes are not held"})
			continue
		case int64(len(b)) != sizes[dg]:
			add(Violation{Rule: RuleContentHeld, Digest: dg, Detail: fmt.Sprintf("held as %d bytes, recorded as %d", len(b), sizes[dg])})
		}
		referred += int64(len(b))
		if got := s.blobs.Refs(dg); got != refs[dg] {
			add(Violation{Rule: RuleReferenceCount, Digest: dg, Detail: fmt.Sprintf("%d references held, %d records refer to it", got, refs[dg])})
		}
	}
	count, bytes := s.blobs.Stats()
	if count != len(refs) {
		add(Violation{Rule: RuleNoOrphans, Detail: fmt.Sprintf("%d digests held, %d referred to", count, len(refs))})
	}
	if bytes != referred {
		add(Violation{Rule: RuleBytesAccounted, Detail: fmt.Sprintf("%d bytes held, %d bytes referred to", bytes, referred)})
	}
	return out, nil
}

func sortedDigests(m map[digest.Digest]int) []digest.Digest {
	out := make([]digest.Digest, 0, len(m))
	for d := range m {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
