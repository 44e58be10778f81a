package emulator

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/cache"
	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/emulator/rbac"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// The artifact cache (emulator/cache) as the emulator runs it: upstreams that are the
// emulator's own registries (<name>.azurecr.io or a login server) are read in-process from the
// cache's public side, any other host over this machine's network; Key Vault secret values
// come from the world file.

func (e *Emulator) newCache() *cache.Cache {
	secrets := map[string]string{}
	for _, s := range e.world.KeyVaultSecrets {
		secrets[cache.SecretKey(s.ID)] = s.Value
	}
	return cache.New(cache.Config{Store: e.st, NetworkRules: e.rules, Transport: e.upstreamTransport, Secrets: secrets,
		Log: e.log.With("component", "artifact-cache"), Audit: e.audit})
}

// upstreamTransport reaches an upstream registry host: nil (this machine's network) unless it
// is one of the emulator's registries.
func (e *Emulator) upstreamTransport(host string) http.RoundTripper {
	host = strings.TrimSuffix(strings.ToLower(host), ":443")
	regs, err := e.st.ListRegistries()
	if err != nil {
		return nil
	}
	for _, r := range regs {
		if host == strings.ToLower(r.LoginServer) || host == r.Name+".azurecr.io" {
			return e.ServiceTransport(AzureService{Name: network.ServiceArtifactCachePublic, OutboundIP: outboundIP(network.ServiceArtifactCachePublic)})
		}
	}
	return nil
}

// keyVaultSecretsUser is the role a world's credential set gets on its secrets' vaults.
const keyVaultSecretsUser = "Key Vault Secrets User"

// createWorldCache stores the credential sets and cache rules the world declares, as ARM
// stores them, each set with its identity and its role on its secrets' vaults.
func (e *Emulator) createWorldCache() error {
	now := time.Now().UTC()
	role, _ := rbac.RoleByName(keyVaultSecretsUser)
	for _, wr := range e.world.Registries {
		if len(wr.CredentialSets) == 0 && len(wr.CacheRules) == 0 {
			continue
		}
		reg, err := e.st.GetRegistry(wr.Name)
		if err != nil || reg == nil {
			return err
		}
		for _, s := range wr.CredentialSets {
			id := reg.ID + "/credentialSets/" + s.Name
			set := &store.CredentialSet{Registry: reg.Name, Name: s.Name, LoginServer: strings.ToLower(s.LoginServer),
				PrincipalID: orDerived(s.PrincipalID, id), CreatedAt: now,
				Credentials: []store.AuthCredential{{Name: "Credential1", UsernameSecretID: s.UsernameSecretIdentifier, PasswordSecretID: s.PasswordSecretIdentifier}}}
			if err := e.st.PutPrincipal(&store.Principal{ObjectID: set.PrincipalID, AppID: derivedGUID(id + "/app"), TenantID: e.world.TenantID,
				DisplayName: s.Name, Kind: store.KindManagedIdentity, ResourceID: id}); err != nil {
				return err
			}
			for _, vault := range vaultsOf(s.UsernameSecretIdentifier, s.PasswordSecretIdentifier) {
				scope := e.world.SubscriptionScope() + "/resourceGroups/" + e.world.ResourceGroup + "/providers/Microsoft.KeyVault/vaults/" + vault
				name := ids.NewGUID()
				if err := e.st.PutRoleAssignment(&store.RoleAssignment{ID: scope + "/providers/Microsoft.Authorization/roleAssignments/" + name, Name: name,
					Scope: scope, RoleDefinitionID: rbac.DefinitionID(e.world.SubscriptionID, role.ID), PrincipalID: set.PrincipalID,
					PrincipalType: "ServicePrincipal", CreatedAt: now, UpdatedAt: now}); err != nil {
					return err
				}
			}
			if err := e.st.PutCredentialSet(set); err != nil {
				return err
			}
		}
		for _, c := range wr.CacheRules {
			rule := &store.CacheRule{Registry: reg.Name, Name: c.Name, SourceRepository: c.SourceRepository, TargetRepository: c.TargetRepository, CreatedAt: now}
			if c.CredentialSet != "" {
				rule.CredentialSetID = reg.ID + "/credentialSets/" + c.CredentialSet
			}
			if err := e.st.PutCacheRule(rule); err != nil {
				return err
			}
		}
		e.log.Info("the world's artifact cache", "registry", reg.Name, "credentialSets", len(wr.CredentialSets), "cacheRules", len(wr.CacheRules))
	}
	return nil
}

// vaultsOf returns the distinct vault names of secret identifiers.
func vaultsOf(secretIDs ...string) []string {
	var out []string
	for _, s := range secretIDs {
		u, err := url.Parse(s)
		if err != nil {
			continue
		}
		vault, _, _ := strings.Cut(strings.ToLower(u.Host), ".")
		if vault != "" && (len(out) == 0 || out[len(out)-1] != vault) {
			out = append(out, vault)
		}
	}
	return out
}
