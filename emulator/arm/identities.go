package arm

import (
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/go-chi/chi/v5"
)

// Microsoft.ManagedIdentity/userAssignedIdentities: creating one creates its service
// principal in the emulated tenant, usable at once by the managed-identity endpoints and in
// role assignments.

func (a *api) identityID(name string) string {
	return "/subscriptions/" + a.cfg.SubscriptionID + "/resourceGroups/" + a.cfg.ResourceGroup +
		"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name
}

func (a *api) identityJSON(p *store.Principal) map[string]any {
	name := p.ResourceID[strings.LastIndex(p.ResourceID, "/")+1:]
	return map[string]any{
		"id": p.ResourceID, "name": name, "type": "Microsoft.ManagedIdentity/userAssignedIdentities", "location": a.cfg.Location,
		"tags":       map[string]string{},
		"properties": map[string]string{"tenantId": p.TenantID, "principalId": p.ObjectID, "clientId": p.AppID},
	}
}

func (a *api) identityFromPath(r *http.Request) (string, error) {
	if err := a.subscription(r); err != nil {
		return "", err
	}
	if rg := chi.URLParam(r, "rg"); !strings.EqualFold(rg, a.cfg.ResourceGroup) {
		return "", armError(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '"+rg+"' could not be found.")
	}
	return a.identityID(chi.URLParam(r, "name")), nil
}

func (a *api) getIdentity(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	id, err := a.identityFromPath(r)
	if err != nil {
		return err
	}
	if err := a.authorize(caller, id, "Microsoft.ManagedIdentity/userAssignedIdentities/read"); err != nil {
		return err
	}
	p, err := a.cfg.Store.PrincipalByResourceID(id)
	if err != nil {
		return err
	}
	if p == nil || p.Kind != store.KindManagedIdentity {
		return armError(http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/"+
			chi.URLParam(r, "name")+"' under resource group '"+a.cfg.ResourceGroup+"' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")
	}
	return writeJSON(w, http.StatusOK, a.identityJSON(p))
}

func (a *api) putIdentity(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	id, err := a.identityFromPath(r)
	if err != nil {
		return err
	}
	if err := a.authorize(caller, id, "Microsoft.ManagedIdentity/userAssignedIdentities/write"); err != nil {
		return err
	}
	var body struct {
		Location string `json:"location"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if p, err := a.cfg.Store.PrincipalByResourceID(id); err != nil {
		return err
	} else if p != nil {
		return writeJSON(w, http.StatusOK, a.identityJSON(p))
	}
	p := &store.Principal{ObjectID: ids.NewGUID(), AppID: ids.NewGUID(), TenantID: a.cfg.TenantID, DisplayName: chi.URLParam(r, "name"),
		Kind: store.KindManagedIdentity, ResourceID: id}
	if err := a.cfg.Store.PutPrincipal(p); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, a.identityJSON(p))
}

func (a *api) deleteIdentity(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	id, err := a.identityFromPath(r)
	if err != nil {
		return err
	}
	if err := a.authorize(caller, id, "Microsoft.ManagedIdentity/userAssignedIdentities/delete"); err != nil {
		return err
	}
	p, err := a.cfg.Store.PrincipalByResourceID(id)
	if err != nil {
		return err
	}
	if p == nil {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err := a.cfg.Store.DeletePrincipal(p.ObjectID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a *api) listIdentities(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	if err := a.subscription(r); err != nil {
		return err
	}
	ps, err := a.cfg.Store.ListPrincipals()
	if err != nil {
		return err
	}
	out := []any{}
	for _, p := range ps {
		if p.Kind == store.KindManagedIdentity && strings.Contains(p.ResourceID, "/Microsoft.ManagedIdentity/userAssignedIdentities/") &&
			a.authorize(caller, p.ResourceID, "Microsoft.ManagedIdentity/userAssignedIdentities/read") == nil {
			out = append(out, a.identityJSON(p))
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"value": out})
}
