package store

import (
	"fmt"
	"slices"
	"sort"

	"github.com/acr-emulator/acr-emulator/emulator/store/blobstore"

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
	RuleNoOrphans        = "no-orphaned-digest" // no digest is held that no record refers to (or dump keeps)
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
		info, held := s.blobs.Stat(dg)
		switch {
		case !held:
			add(Violation{Rule: RuleContentHeld, Digest: dg, Detail: "referred to by a record, but its bytes are not held"})
			continue
		case info.Size != sizes[dg]:
			add(Violation{Rule: RuleContentHeld, Digest: dg, Detail: fmt.Sprintf("held as %d bytes, recorded as %d", info.Size, sizes[dg])})
		}
		referred += info.Size
		if info.Refs != refs[dg] {
			add(Violation{Rule: RuleReferenceCount, Digest: dg, Detail: fmt.Sprintf("%d references held, %d records refer to it", info.Refs, refs[dg])})
		}
	}
	// Content no record refers to is held only for a dump (the state a reset returns to, a
	// snapshot being written), which pins it.
	var orphans []digest.Digest
	var kept int64
	s.blobs.Each(func(dg digest.Digest, info blobstore.Info) {
		switch {
		case refs[dg] > 0:
		case info.Pins > 0:
			kept += info.Size
		default:
			orphans = append(orphans, dg)
		}
	})
	slices.Sort(orphans)
	for _, dg := range orphans {
		add(Violation{Rule: RuleNoOrphans, Digest: dg, Detail: "held, but no record refers to it and no dump keeps it"})
	}
	if _, bytes := s.blobs.Stats(); bytes != referred+kept {
		add(Violation{Rule: RuleBytesAccounted, Detail: fmt.Sprintf("%d bytes held, %d bytes referred to or kept for a dump", bytes, referred+kept)})
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
