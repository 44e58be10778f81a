package arm

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/acr-emulator/acr-emulator/emulator/webhook"
)

// Microsoft.ContainerRegistry/registries/webhooks
// (https://learn.microsoft.com/rest/api/containerregistry/webhooks): where a registry posts
// its push and delete events, delivered for real by emulator/webhook. Shapes and status codes
// follow the azure-cli recording test_acr_create_webhook.yaml (api-version 2021-08-01-preview):
// GET never shows serviceUri or customHeaders, getCallbackConfig does; ping answers {"id"}
// once the ping was delivered; listEvents lists each delivery with the request sent and the
// response received. At that version and before, writes are answered as the recording
// shows them: 200, done (a DELETE too). At later versions they are answered as the REST
// reference documents them (create 201 and update 201 with Azure-AsyncOperation, delete 202
// with Location), as ACR's other children are (UNCONFIRMED by a recording). The
// quota's text is ACR's (QuotaExceeded, as the VS Code Docker extension reported it,
// microsoft/vscode-docker#1281); the other refusals' texts are UNCONFIRMED.

const webhookType = "Microsoft.ContainerRegistry/registries/webhooks"

// recordedDone answers writes as the recordings at 2021-08-01-preview and before show them (200,
// done) and later versions as ACR's children do (an operation to poll).
func recordedDone(c *Call) LRO {
	if c.APIVersion() < "2021-08-02" {
		return Done
	}
	return Async
}

// Webhooks delivers webhook pings and keeps every webhook's deliveries (emulator/webhook).
type Webhooks interface {
	Ping(ctx context.Context, w *store.Webhook) string
	Events(w *store.Webhook) []webhook.Delivery
	Forget(w *store.Webhook)
}

// webhookQuota is how many webhooks a registry of a SKU may have
// (https://learn.microsoft.com/azure/container-registry/container-registry-skus).
func webhookQuota(sku string) int {
	switch sku {
	case "Basic":
		return 2
	case "Standard":
		return 10
	}
	return 500
}

func (a *api) webhooks() *Kind[store.Webhook] {
	return &Kind[store.Webhook]{Type: webhookType, Actions: crud(webhookType, "ping", "getCallbackConfig", "listEvents"), LROFor: recordedDone,
		Get: func(c *Call) (*store.Webhook, error) { return a.cfg.Store.GetWebhook(c.Registry().Name, c.ID.Name()) },
		List: func(c *Call) ([]*store.Webhook, error) {
			return a.cfg.Store.ListWebhooks(c.Registry().Name)
		},
		Decode:   decodeWebhook,
		Validate: a.validateWebhook,
		Save: func(c *Call, old, next *store.Webhook) error {
			next.System = touch(next.System, c.Caller, old == nil)
			return a.cfg.Store.PutWebhook(next)
		},
		Delete: func(c *Call, w *store.Webhook) error {
			if err := a.cfg.Store.DeleteWebhook(w.Registry, w.Name); err != nil {
				return err
			}
			if a.cfg.Webhooks != nil {
				a.cfg.Webhooks.Forget(w)
			}
			return nil
		},
		JSON: func(c *Call, w *store.Webhook) any { return webhookJSON(c.Registry(), w) },
		Do: map[string]func(*Call, *store.Webhook) error{
			"ping": a.pingWebhook, "getCallbackConfig": getCallbackConfig, "listEvents": a.listWebhookEvents,
		}}
}

type webhookBody struct {
	Location   *string           `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties webhookProperties `json:"properties"`
}

type webhookProperties struct {
	ServiceURI    *string           `json:"serviceUri"`
	CustomHeaders map[string]string `json:"customHeaders"`
	Status        *string           `json:"status"`
	Scope         *string           `json:"scope"`
	Actions       []string          `json:"actions"`
}

// decodeWebhook reads a PUT (WebhookCreateParameters: location, serviceUri and actions
// required; the rest replaced) or a PATCH (WebhookUpdateParameters: what is present changes;
// customHeaders and tags are replaced whole, {} clears them).
func decodeWebhook(c *Call, old *store.Webhook, patch bool) (*store.Webhook, error) {
	var b webhookBody
	if err := c.Decode(&b); err != nil {
		return nil, err
	}
	p := b.Properties
	var next *store.Webhook
	switch {
	case patch:
		next = old.Copy()
		if b.Tags != nil {
			next.Tags = maps.Clone(b.Tags)
		}
		if p.CustomHeaders != nil {
			next.CustomHeaders = maps.Clone(p.CustomHeaders)
		}
	default:
		if old == nil && !registryNameOK(c.ID.Name()) {
			return nil, armError(http.StatusBadRequest, "InvalidResourceName", "Resource name "+c.ID.Name()+
				" is invalid. The name can contain only alphanumeric characters and must be between 5 and 50 characters.")
		}
		if b.Location == nil || *b.Location == "" {
			return nil, armError(http.StatusBadRequest, "LocationRequired", "The location property is required for this definition.")
		}
		if p.ServiceURI == nil || *p.ServiceURI == "" {
			return nil, armError(http.StatusBadRequest, "InvalidRequestContent", "The property 'properties.serviceUri' is required.")
		}
		if p.Actions == nil {
			return nil, armError(http.StatusBadRequest, "InvalidRequestContent", "The property 'properties.actions' is required.")
		}
		next = &store.Webhook{Registry: c.Registry().Name, Name: c.ID.Name(), UID: ids.NewGUID(), Location: normalizeLocation(*b.Location),
			Tags: maps.Clone(b.Tags), CustomHeaders: maps.Clone(p.CustomHeaders), Enabled: true}
		if old != nil {
			next.Name, next.UID, next.System = old.Name, old.UID, old.System
		}
	}
	if p.ServiceURI != nil {
		next.ServiceURI = *p.ServiceURI
	}
	if p.Scope != nil {
		next.Scope = *p.Scope
	}
	if p.Status != nil {
		v, err := enumValue("properties.status", *p.Status, "enabled", "disabled")
		if err != nil {
			return nil, err
		}
		next.Enabled = v == "enabled"
	}
	if p.Actions != nil {
		next.Actions = nil
		for _, act := range p.Actions {
			v, err := enumValue("properties.actions", act, webhook.Actions...)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(next.Actions, v) {
				next.Actions = append(next.Actions, v)
			}
		}
	}
	return next, nil
}

// validateWebhook checks a webhook against its registry: a location among the registry's
// replications (a webhook hears the events of one regional replica), an http(s) service URI,
// well-formed headers, at least one action, and the SKU's quota on create.
func (a *api) validateWebhook(c *Call, old, next *store.Webhook) error {
	reg := c.Registry()
	if old != nil && next.Location != old.Location {
		return moved(old.Name, old.Location, c.ID.ResourceGroup, next.Location)
	}
	locations := []string{a.location(reg)}
	if reps, err := a.replicationsOf(reg); err != nil {
		return err
	} else if len(reps) > 0 {
		locations = nil
		for _, r := range reps {
			locations = append(locations, r.Location)
		}
	}
	if !slices.Contains(locations, next.Location) {
		return armError(http.StatusBadRequest, "InvalidWebhookLocation", fmt.Sprintf("The location '%s' of webhook '%s' is not a location of registry '%s'. "+
			"A webhook must be in the registry's location or one of its replications' locations: %s.", next.Location, next.Name, reg.Name, strings.Join(locations, ", ")))
	}
	if u, err := url.Parse(next.ServiceURI); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return armError(http.StatusBadRequest, "InvalidRequestContent", "The value '"+next.ServiceURI+"' of properties.serviceUri is not a valid absolute http or https URI.")
	}
	if len(next.Actions) == 0 {
		return armError(http.StatusBadRequest, "InvalidRequestContent", "The property 'properties.actions' must list at least one action. Allowed values: "+
			strings.Join(webhook.Actions, ", ")+".")
	}
	for k, v := range next.CustomHeaders {
		if !headerName(k) || strings.ContainsAny(v, "\r\n\x00") {
			return armError(http.StatusBadRequest, "InvalidRequestContent", "The custom header '"+k+"' is not a valid HTTP header name and value.")
		}
	}
	if old != nil {
		return nil
	}
	hooks, err := a.cfg.Store.ListWebhooks(reg.Name)
	if err != nil {
		return err
	}
	if len(hooks) >= webhookQuota(reg.SKU) {
		return armError(http.StatusConflict, "QuotaExceeded", "Quota exceeded for resource type webhooks for the registry SKU "+reg.SKU+
			". Learn more about different SKU quotas and upgrade process: https://docs.microsoft.com/en-us/azure/container-registry/container-registry-skus")
	}
	return nil
}

// headerName reports whether s is an HTTP header field name (RFC 9110 token).
func headerName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c > 0x7e || c <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c) {
			return false
		}
	}
	return true
}

// webhookJSON is a webhook as GET shows it: never its service URI or headers.
func webhookJSON(reg *store.Registry, w *store.Webhook) map[string]any {
	actions := w.Actions
	if actions == nil {
		actions = []string{}
	}
	return map[string]any{"type": webhookType, "id": reg.ID + "/webhooks/" + w.Name, "name": w.Name, "location": w.Location,
		"tags": tagsJSON(w.Tags), "systemData": systemDataJSON(w.System),
		"properties": map[string]any{"status": status(w.Enabled, "enabled", "disabled"), "scope": w.Scope, "actions": actions,
			"provisioningState": "Succeeded"}}
}

func getCallbackConfig(c *Call, w *store.Webhook) error {
	headers := w.CustomHeaders
	if headers == nil {
		headers = map[string]string{}
	}
	return c.Reply(http.StatusOK, map[string]any{"serviceUri": w.ServiceURI, "customHeaders": headers})
}

func (a *api) pingWebhook(c *Call, w *store.Webhook) error {
	id := ids.NewGUID()
	if a.cfg.Webhooks != nil {
		id = a.cfg.Webhooks.Ping(c.R.Context(), w)
	}
	return c.Reply(http.StatusOK, map[string]string{"id": id})
}

func (a *api) listWebhookEvents(c *Call, w *store.Webhook) error {
	events := []webhook.Delivery{}
	if a.cfg.Webhooks != nil {
		events = append(events, a.cfg.Webhooks.Events(w)...)
	}
	return c.Reply(http.StatusOK, map[string]any{"value": events})
}

// webhookUsage is listUsages' line for webhooks: the SKU's quota and how many there are.
func (a *api) webhookUsage(reg *store.Registry) (map[string]any, error) {
	hooks, err := a.cfg.Store.ListWebhooks(reg.Name)
	return map[string]any{"name": "Webhooks", "limit": webhookQuota(reg.SKU), "currentValue": len(hooks), "unit": "Count"}, err
}
