package store

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
)

// Table and index names. Compound ids put the registry first so every per-registry scan is a
// prefix scan, and the repository second so a repository's children sort together.
const (
	TableRegistries      = "registries"
	TableRepositories    = "repositories"
	TableManifests       = "manifests"
	TableTags            = "tags"
	TableBlobLinks       = "blob_links"
	TableUploads         = "uploads"
	TablePrincipals      = "principals"
	TableAssignments     = "role_assignments"
	TableResources       = "resources"
	TableEndpoints       = "private_endpoints"
	TableResourceGroups  = "resource_groups"
	TableReplications    = "replications"
	TableWebhooks        = "webhooks"
	TableScopeMaps       = "scope_maps"
	TableTokens          = "tokens"
	TableVirtualNetworks = "virtual_networks"
	// Registry children (children.go).
	TableAgentPools          = "agent_pools"
	TableConnectedRegistries = "connected_registries"
	TableCacheRules          = "cache_rules"
	TableCredentialSets      = "credential_sets"

	indexID      = "id"
	indexDigest  = "digest"
	indexSubject = "subject"
	indexAppID   = "app_id"
	indexPrinc   = "principal"
	indexHeader  = "identity_header"
	indexResID   = "resource_id"
)

type tableFactory func() *memdb.TableSchema

func schema() *memdb.DBSchema {
	factories := []tableFactory{
		registriesTableSchema,
		repositoriesTableSchema,
		manifestsTableSchema,
		tagsTableSchema,
		blobLinksTableSchema,
		uploadsTableSchema,
		principalsTableSchema,
		assignmentsTableSchema,
		resourcesTableSchema,
		endpointsTableSchema,
		resourceGroupsTableSchema,
		replicationsTableSchema,
		webhooksTableSchema,
		childTableSchema(TableScopeMaps),
		childTableSchema(TableTokens),
		virtualNetworksTableSchema,
		childTableSchema(TableAgentPools),
		childTableSchema(TableConnectedRegistries),
		childTableSchema(TableCacheRules),
		childTableSchema(TableCredentialSets),
	}
	db := &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{}}
	for _, f := range factories {
		t := f()
		if _, dup := db.Tables[t.Name]; dup {
			panic(fmt.Sprintf("store: table %q defined twice", t.Name))
		}
		db.Tables[t.Name] = t
	}
	return db
}

func str(field string) memdb.Indexer { return &memdb.StringFieldIndex{Field: field} }

func compound(fields ...string) memdb.Indexer {
	ix := make([]memdb.Indexer, len(fields))
	for i, f := range fields {
		ix[i] = str(f)
	}
	return &memdb.CompoundIndex{Indexes: ix}
}

func registriesTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableRegistries,
		Indexes: map[string]*memdb.IndexSchema{
			// id: registry by name (names are unique per emulator, as per Azure cloud).
			indexID: {Name: indexID, Unique: true, Indexer: str("Name")},
		},
	}
}

func repositoriesTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableRepositories,
		Indexes: map[string]*memdb.IndexSchema{
			// id: (registry, repository); prefix (registry, "") lists a registry's catalog in order.
			indexID: {Name: indexID, Unique: true, Indexer: compound("Registry", "Name")},
		},
	}
}

func manifestsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableManifests,
		Indexes: map[string]*memdb.IndexSchema{
			// id: (registry, repository, digest).
			indexID: {Name: indexID, Unique: true, Indexer: compound("Registry", "Repo", "Digest")},
			// subject: (registry, repository, subject digest) serves the referrers API.
			indexSubject: {Name: indexSubject, AllowMissing: true, Indexer: compound("Registry", "Repo", "Subject")},
		},
	}
}

func tagsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableTags,
		Indexes: map[string]*memdb.IndexSchema{
			// id: (registry, repository, tag); prefix (registry, repository, "") lists tags in order.
			indexID: {Name: indexID, Unique: true, Indexer: compound("Registry", "Repo", "Name")},
			// digest: the tags of one manifest, for deletes and the metadata API.
			indexDigest: {Name: indexDigest, Indexer: compound("Registry", "Repo", "Digest")},
		},
	}
}

func blobLinksTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableBlobLinks,
		Indexes: map[string]*memdb.IndexSchema{
			// id: (registry, repository, digest): a repository may serve a blob only when linked.
			indexID: {Name: indexID, Unique: true, Indexer: compound("Registry", "Repo", "Digest")},
			// digest: any repository in the registry holding the blob (anonymous mounts).
			indexDigest: {Name: indexDigest, Indexer: compound("Registry", "Digest")},
		},
	}
}

func uploadsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableUploads,
		Indexes: map[string]*memdb.IndexSchema{
			// id: the upload session UUID; sessions are checked against registry and repository on use.
			indexID: {Name: indexID, Unique: true, Indexer: str("ID")},
		},
	}
}

func principalsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TablePrincipals,
		Indexes: map[string]*memdb.IndexSchema{
			// id: the object id, what role assignments and Entra's oid claim name.
			indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ObjectID", Lowercase: true}},
			// app_id: the client id, what token requests and Basic credentials name.
			indexAppID: {Name: indexAppID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "AppID", Lowercase: true}},
			// resource_id: a managed identity by its ARM id (mi_res_id, attached identities).
			indexResID: {Name: indexResID, AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "ResourceID", Lowercase: true}},
		},
	}
}

func assignmentsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableAssignments,
		Indexes: map[string]*memdb.IndexSchema{
			// id: the full assignment id (scope + name), compared case-insensitively as ARM does.
			indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID", Lowercase: true}},
			// principal: a principal's assignments, evaluated on every token request.
			indexPrinc: {Name: indexPrinc, Indexer: &memdb.StringFieldIndex{Field: "PrincipalID", Lowercase: true}},
		},
	}
}

func resourcesTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableResources,
		Indexes: map[string]*memdb.IndexSchema{
			// id: the ARM id, case-insensitive as ARM ids are.
			indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID", Lowercase: true}},
			// identity_header: the managed-identity endpoint's caller lookup.
			indexHeader: {Name: indexHeader, Unique: true, AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "IdentityHeader"}},
		},
	}
}

func endpointsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableEndpoints,
		Indexes: map[string]*memdb.IndexSchema{
			// id: the private endpoint's ARM id.
			indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID", Lowercase: true}},
		},
	}
}
