package webhook

import (
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/registry"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Content is the JSON body a webhook posts, as ACR writes it
// (https://learn.microsoft.com/azure/container-registry/container-registry-webhook-reference):
// compact, in this field order; a ping carries only id, timestamp and action (the azure-cli
// recording test_acr_create_webhook.yaml: a 104-byte body).
type Content struct {
	ID        string   `json:"id"`
	Timestamp string   `json:"timestamp"`
	Action    string   `json:"action"`
	Target    *Target  `json:"target,omitempty"`
	Request   *Request `json:"request,omitempty"`
}

// Target is what an event is about. A delete names the media type, digest and repository only.
type Target struct {
	MediaType  string `json:"mediaType,omitempty"`
	Size       int64  `json:"size,omitempty"`
	Digest     string `json:"digest,omitempty"`
	Length     int64  `json:"length,omitempty"`
	Repository string `json:"repository,omitempty"`
	Tag        string `json:"tag,omitempty"`
}

// Request is the data-plane request that made an event.
type Request struct {
	ID        string `json:"id"`
	Host      string `json:"host"`
	Method    string `json:"method"`
	UserAgent string `json:"useragent"`
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// job is one delivery to make: a webhook's address and headers as they were when the event
// happened, and the body.
type job struct {
	uid     string
	uri     string
	headers map[string]string
	content Content
}

// fanOut turns a registry event into the deliveries the registry's webhooks subscribe to: a
// push is one event per tag it set (one without a tag for a push by digest), preceded, when
// the registry's quarantine policy is enabled, by the same events as quarantine (ACR sends
// quarantine events for pushes to a quarantined registry; that it also sends the push ones is
// UNCONFIRMED, and the emulator quarantines nothing, so both go); a delete is one event.
func fanOut(hooks []*store.Webhook, quarantine bool, ev registry.Event, newID func() string, now time.Time) []job {
	req := &Request{ID: ev.Request.ID, Host: ev.Request.Host, Method: ev.Request.Method, UserAgent: ev.Request.UserAgent}
	var out []job
	add := func(action string, target *Target, scopeTags []string) {
		for _, w := range hooks {
			if !Subscribed(w, action, ev.Repo, scopeTags) {
				continue
			}
			out = append(out, job{uid: w.UID, uri: w.ServiceURI, headers: w.CustomHeaders,
				content: Content{ID: newID(), Timestamp: timestamp(now), Action: action, Target: target, Request: req}})
		}
	}
	switch ev.Action {
	case registry.EventDelete:
		add(ActionDelete, &Target{MediaType: ev.MediaType, Digest: ev.Digest.String(), Repository: ev.Repo}, ev.Tags)
	case registry.EventPush:
		tags := ev.Tags
		if len(tags) == 0 {
			tags = []string{""}
		}
		actions := []string{ActionPush}
		if quarantine {
			actions = []string{ActionQuarantine, ActionPush}
		}
		for _, action := range actions {
			for _, tag := range tags {
				var scopeTags []string
				if tag != "" {
					scopeTags = []string{tag}
				}
				add(action, &Target{MediaType: ev.MediaType, Size: ev.Size, Digest: ev.Digest.String(), Length: ev.Size,
					Repository: ev.Repo, Tag: tag}, scopeTags)
			}
		}
	}
	return out
}
