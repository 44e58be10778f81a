package world

import (
	"strings"
	"testing"
)

func TestCacheDeclarations(t *testing.T) {
	good := `
keyVaultSecrets:
  - {id: https://kv.vault.azure.net/secrets/user, value: alice}
registries:
  - name: myregistry
    credentialSets:
      - {name: creds-one, loginServer: docker.io, usernameSecretIdentifier: "https://kv.vault.azure.net/secrets/user", passwordSecretIdentifier: "https://kv.vault.azure.net/secrets/pass/1"}
    cacheRules:
      - {name: hello-rule, sourceRepository: docker.io/library/hello-world, targetRepository: hello, credentialSet: creds-one}
      - {name: mcr-all, sourceRepository: "mcr.microsoft.com/*", targetRepository: "*"}
`
	w, err := Parse([]byte(good), "w.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r := w.Registries[0]; len(r.CacheRules) != 2 || r.CacheRules[0].CredentialSet != "creds-one" || len(w.KeyVaultSecrets) != 1 {
		t.Fatalf("parsed: %+v %+v", r.CacheRules, w.KeyVaultSecrets)
	}
	for _, tc := range []struct{ body, want string }{
		{"keyVaultSecrets:\n  - {id: https://example.com/secrets/x, value: v}\nregistries:\n  - name: myregistry\n", "keyVaultSecrets[0].id"},
		{"registries:\n  - name: myregistry\n    cacheRules:\n      - {name: hello-rule, sourceRepository: hello, targetRepository: hello}\n", "cacheRules[0].sourceRepository"},
		{"registries:\n  - name: myregistry\n    cacheRules:\n      - {name: half-wild, sourceRepository: \"mcr.microsoft.com/*\", targetRepository: mirror}\n", "cacheRules[0]: a wildcard rule"},
		{"registries:\n  - name: myregistry\n    cacheRules:\n      - {name: hello-rule, sourceRepository: docker.io/x, targetRepository: hello, credentialSet: nothere}\n", "cacheRules[0].credentialSet"},
		{"registries:\n  - name: myregistry\n    cacheRules:\n      - {name: rule-one, sourceRepository: docker.io/x, targetRepository: hello}\n      - {name: rule-two, sourceRepository: docker.io/y, targetRepository: hello}\n", "cacheRules[1].targetRepository"},
		{"registries:\n  - name: myregistry\n    credentialSets:\n      - {name: creds-one, loginServer: docker.io, usernameSecretIdentifier: user, passwordSecretIdentifier: \"https://kv.vault.azure.net/secrets/p\"}\n", "credentialSets[0].usernameSecretIdentifier"},
	} {
		if _, err := Parse([]byte(tc.body), "w.yaml"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error naming %s, got %v", tc.want, err)
		}
	}
}
