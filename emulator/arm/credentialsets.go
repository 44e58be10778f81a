package arm

import (
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/cache"
	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/acr-emulator/acr-emulator/emulator/world"
)

// Microsoft.ContainerRegistry/registries/credentialSets: the Key Vault secrets that hold an
// upstream registry's username and password, for the artifact cache's rules
// (https://learn.microsoft.com/azure/container-registry/artifact-cache-overview), read with
// the set's own system-assigned identity. Shapes are the az CLI's recording (test_acr_cache):
// PUT and PATCH 201 with an Azure-AsyncOperation, identity.type "systemAssigned". A
// credential is Unhealthy, with the recorded errorCode Forbidden and message, until the set's
// identity may read its secrets; Key Vault is not emulated, so "may read" is: a role
// assignment to the set's principal at the scope of each secret's vault
// (…/providers/Microsoft.KeyVault/vaults/{vault}, any role: UNCONFIRMED, Azure needs secrets
// get). Deleting a set a cache rule uses is refused (UNCONFIRMED text).

const credentialSetType = "Microsoft.ContainerRegistry/registries/credentialSets"

func (a *api) credentialSets() *Kind[store.CredentialSet] {
	st := a.cfg.Store
	return &Kind[store.CredentialSet]{Type: credentialSetType, Actions: crud(credentialSetType), LRO: AsyncLocation, Max: 1000,
		Get: func(c *Call) (*store.CredentialSet, error) {
			return st.GetCredentialSet(c.Registry().Name, c.ID.Name())
		},
		List: func(c *Call) ([]*store.CredentialSet, error) {
			return st.ListCredentialSets(c.Registry().Name)
		},
		Decode: a.decodeCredentialSet,
		Save: func(c *Call, old, next *store.CredentialSet) error {
			next.System = touch(next.System, c.Caller, old == nil)
			if old == nil {
				// The set's system-assigned identity, which role assignments may name.
				if err := st.PutPrincipal(&store.Principal{ObjectID: next.PrincipalID, AppID: ids.NewGUID(), TenantID: a.cfg.TenantID,
					DisplayName: next.Name, Kind: store.KindManagedIdentity, ResourceID: c.Registry().ID + "/credentialSets/" + next.Name}); err != nil {
					return err
				}
			}
			return st.PutCredentialSet(next)
		},
		Delete: func(c *Call, set *store.CredentialSet) error {
			rules, err := st.ListCacheRules(set.Registry)
			if err != nil {
				return err
			}
			id := c.Registry().ID + "/credentialSets/" + set.Name
			for _, r := range rules {
				if strings.EqualFold(r.CredentialSetID, id) {
					return armError(http.StatusConflict, "CredentialSetInUse", "The credential set '"+set.Name+"' is used by the cache rule '"+r.Name+"'.")
				}
			}
			if err := st.DeletePrincipal(set.PrincipalID); err != nil {
				return err
			}
			return st.DeleteCredentialSet(set.Registry, set.Name)
		},
		JSON: func(c *Call, set *store.CredentialSet) any { return a.credentialSetJSON(c.Registry(), set) }}
}

type credentialSetBody struct {
	Identity *struct {
		Type string `json:"type"`
	} `json:"identity"`
	Properties *struct {
		LoginServer     *string `json:"loginServer"`
		AuthCredentials *[]struct {
			Name                     string `json:"name"`
			UsernameSecretIdentifier string `json:"usernameSecretIdentifier"`
			PasswordSecretIdentifier string `json:"passwordSecretIdentifier"`
		} `json:"authCredentials"`
	} `json:"properties"`
}

// decodeCredentialSet: a PUT names the upstream login server and its one credential
// (Credential1, as az names it); the login server is set once; a PATCH replaces the
// credential's secrets.
func (a *api) decodeCredentialSet(c *Call, old *store.CredentialSet, _ bool) (*store.CredentialSet, error) {
	var b credentialSetBody
	if err := c.Decode(&b); err != nil {
		return nil, err
	}
	bad := func(msg string) error { return armError(http.StatusBadRequest, "InvalidRequestContent", msg) }
	next := &store.CredentialSet{Registry: c.Registry().Name, Name: c.ID.Name(), PrincipalID: ids.NewGUID()}
	if old != nil {
		next = old.Copy()
	}
	if b.Identity != nil && !strings.EqualFold(b.Identity.Type, "SystemAssigned") {
		return nil, bad("The value '" + b.Identity.Type + "' of identity.type is not valid. Allowed values: SystemAssigned.")
	}
	p := b.Properties
	if old == nil {
		if !childNameOK(c.ID.Name(), 5, 50) {
			return nil, armError(http.StatusBadRequest, "InvalidResourceName", "Resource name "+c.ID.Name()+
				" is invalid. The name can contain only alphanumeric characters and hyphens and must be between 5 and 50 characters.")
		}
		if p == nil || p.LoginServer == nil || p.AuthCredentials == nil {
			return nil, bad("properties.loginServer and properties.authCredentials are required.")
		}
	}
	if p == nil {
		return next, nil
	}
	if p.LoginServer != nil {
		host := strings.ToLower(strings.TrimSpace(*p.LoginServer))
		if host == "" || strings.ContainsAny(host, "/ ") || !strings.Contains(host, ".") {
			return nil, bad("The value '" + *p.LoginServer + "' of properties.loginServer is not a registry's login server.")
		}
		if old != nil && host != old.LoginServer {
			return nil, bad("The property 'loginServer' of a credential set cannot be updated.")
		}
		next.LoginServer = host
	}
	if p.AuthCredentials != nil {
		if len(*p.AuthCredentials) != 1 || (*p.AuthCredentials)[0].Name != "Credential1" {
			return nil, bad("properties.authCredentials holds one credential, named Credential1.")
		}
		cr := (*p.AuthCredentials)[0]
		for _, s := range []string{cr.UsernameSecretIdentifier, cr.PasswordSecretIdentifier} {
			if !world.KeyVaultSecretID(s) {
				return nil, bad("'" + s + "' is not a Key Vault secret identifier (https://{vault}.vault.azure.net/secrets/{name}).")
			}
		}
		next.Credentials = []store.AuthCredential{{Name: cr.Name, UsernameSecretID: cr.UsernameSecretIdentifier, PasswordSecretID: cr.PasswordSecretIdentifier}}
	}
	if old == nil {
		next.CreatedAt = nowUTC()
	}
	return next, nil
}

// vaultReader reports whether a principal holds a role assignment at the scope of a
// secret's vault.
func (a *api) vaultReader(principalID string, secretIDs ...string) (bool, error) {
	ras, err := a.cfg.Store.RoleAssignmentsOf(principalID)
	if err != nil {
		return false, err
	}
	return cache.SecretsReadable(ras, secretIDs...), nil
}

func (a *api) credentialSetJSON(reg *store.Registry, set *store.CredentialSet) map[string]any {
	creds := []any{}
	for _, c := range set.Credentials {
		health := map[string]string{"status": "Unhealthy", "errorCode": "Forbidden",
			"errorMessage": "The user, group or application does not have secrets get permission on key vault."}
		if ok, err := a.vaultReader(set.PrincipalID, c.UsernameSecretID, c.PasswordSecretID); err == nil && ok {
			health = map[string]string{"status": "Healthy"}
		}
		creds = append(creds, map[string]any{"name": c.Name, "usernameSecretIdentifier": c.UsernameSecretID,
			"passwordSecretIdentifier": c.PasswordSecretID, "credentialHealth": health})
	}
	return map[string]any{"id": reg.ID + "/credentialSets/" + set.Name, "name": set.Name, "type": credentialSetType,
		"identity":   map[string]string{"principalId": set.PrincipalID, "tenantId": a.cfg.TenantID, "type": "systemAssigned"},
		"systemData": systemDataJSON(set.System),
		"properties": map[string]any{"loginServer": set.LoginServer, "authCredentials": creds, "creationDate": armTime(set.CreatedAt),
			"provisioningState": "Succeeded"}}
}
