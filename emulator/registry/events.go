package registry

import (
	"net/http"

	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/opencontainers/go-digest"
)

// Actions of the events the registry tells its hook about.
const (
	EventPush   = "push"
	EventDelete = "delete"
)

// Event is a change to a repository's manifests, told to the event hook once it committed:
// what Defender for Cloud scans and what webhooks deliver. A tag delete is no event: ACR's
// webhooks are "not triggered when a tag is deleted"
// (https://learn.microsoft.com/azure/container-registry/container-registry-webhook-reference#delete-event).
type Event struct {
	Action    string // EventPush or EventDelete
	Repo      string
	Digest    digest.Digest
	MediaType string
	Size      int64 // of the manifest
	// Tags are the tags a push set (none for a push by digest), or those a delete removed.
	Tags    []string
	Request EventRequest
}

// EventRequest is the data-plane request that made an event.
type EventRequest struct {
	ID, Host, Method, UserAgent string
}

// EventHook is told about every manifest pushed or deleted; it must not block.
type EventHook func(Event)

// WithEventHook registers the hook told about pushes and deletes.
func WithEventHook(h EventHook) Option { return func(r *Registry) { r.events = h } }

func (g *Registry) emit(r *http.Request, e Event) {
	if g.events == nil {
		return
	}
	e.Request = EventRequest{ID: httpx.CorrelationID(r.Context()), Host: r.Host, Method: r.Method, UserAgent: r.UserAgent()}
	g.events(e)
}

// repositoryContent is what a repository holds before a delete takes it, so that the
// delete's events can say what each removed manifest was (nil when no hook listens).
func (g *Registry) repositoryContent(repo string) (map[digest.Digest]*store.Manifest, map[digest.Digest][]string) {
	if g.events == nil {
		return nil, nil
	}
	manifests, tags := map[digest.Digest]*store.Manifest{}, map[digest.Digest][]string{}
	ms, err := g.st.ListManifests(g.name, repo)
	if err != nil {
		g.log.Error("listing manifests for delete events", "repository", repo, "err", err)
	}
	for _, m := range ms {
		manifests[m.Digest] = m
	}
	ts, err := g.st.ListTags(g.name, repo)
	if err != nil {
		g.log.Error("listing tags for delete events", "repository", repo, "err", err)
	}
	for _, t := range ts {
		tags[t.Digest] = append(tags[t.Digest], t.Name)
	}
	return manifests, tags
}
