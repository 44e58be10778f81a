package webhook

import (
	"slices"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// The actions a webhook may subscribe to (WebhookAction in the ARM API).
const (
	ActionPush        = "push"
	ActionDelete      = "delete"
	ActionQuarantine  = "quarantine"
	ActionChartPush   = "chart_push"
	ActionChartDelete = "chart_delete"
	// ActionPing is what a ping delivers; no webhook subscribes to it.
	ActionPing = "ping"
)

// Actions lists the actions a webhook may subscribe to, in the API's order.
var Actions = []string{ActionPush, ActionDelete, ActionQuarantine, ActionChartPush, ActionChartDelete}

// Subscribed reports whether a webhook delivers an event: it is enabled, it subscribes to the
// action, and its scope takes the repository and one of the tags (those a push set, or those
// a delete removed; none for a push by digest).
func Subscribed(w *store.Webhook, action, repo string, tags []string) bool {
	return w.Enabled && slices.Contains(w.Actions, action) && ScopeMatches(w.Scope, repo, tags)
}

// ScopeMatches applies a webhook's scope, as the API documents it: "'foo:*' means events for
// all tags under repository 'foo'. 'foo:bar' means events for 'foo:bar' only. 'foo' is
// equivalent to 'foo:latest'. Empty means all events." An event without a tag (a push by
// digest, the delete of an untagged manifest) is only in a scope of every tag ("foo:*") or of
// everything (UNCONFIRMED: the documentation does not say).
func ScopeMatches(scope, repo string, tags []string) bool {
	if scope == "" {
		return true
	}
	want, tag, ok := strings.Cut(scope, ":")
	if !ok {
		tag = "latest"
	}
	if want != repo {
		return false
	}
	return tag == "*" || slices.Contains(tags, tag)
}
