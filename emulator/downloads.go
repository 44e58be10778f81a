package emulator

// Blob downloads as ACR hands them out: a blob GET on the login server answers 307 to a
// short-lived link, on the registry's dedicated data endpoint when it has them (and a private
// endpoint turns them on), else on the storage account ACR keeps the registry's content in.
// https://learn.microsoft.com/azure/container-registry/container-registry-firewall-access-rules

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/arm"
	"github.com/acr-emulator/acr-emulator/emulator/dataendpoint"
	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/emulator/registry"
	"github.com/acr-emulator/acr-emulator/emulator/storage"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/opencontainers/go-digest"
)

const (
	// linkTTL is how long a download link works: ACR's storage links expire 20 minutes after
	// the GET (se= in the Azure SDK for JS recording).
	linkTTL = 20 * time.Minute
	// contentAccount is the storage account holding the registries' content; each registry has
	// a container of its own, named <registry id>-<suffix> as ACR's are.
	contentAccount = "acremulatorcontent"
)

// dataLinkKey is the key data endpoint links are signed with: derived from the storage's
// secret when there is one (links survive a restart with the data directory), else random.
func dataLinkKey(secret []byte) []byte {
	if secret == nil {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("data endpoint links"))
	return m.Sum(nil)
}

// blobRedirect is the registry's redirect decision: where the client that made r downloads
// a blob of registry name.
func (e *Emulator) blobRedirect(name string) registry.BlobRedirect {
	return func(r *http.Request, repo string, d digest.Digest) (string, error) {
		reg, err := e.st.GetRegistry(name)
		if err != nil || reg == nil {
			return "", err
		}
		if arm.DataEndpointsOn(e.st, reg) {
			return e.dataLink(r, reg, repo, d), nil
		}
		return e.storageLink(r, reg, d)
	}
}

// dataLink is a link on the data endpoint of the registry's home region. ACR sends a client
// to the data endpoint of the replica that serves it; the emulator serves every replica from
// one place, so the home region's it is.
func (e *Emulator) dataLink(r *http.Request, reg *store.Registry, repo string, d digest.Digest) string {
	region := reg.Location
	if region == "" {
		region = e.world.Location
	}
	host := dataendpoint.Host(reg.Name, region)
	base := "https://" + host + "/"
	if !viaAzureName(r) {
		base = e.ownBase(r) + "/" + host + "/"
	}
	corr := httpx.CorrelationID(r.Context())
	return base + "?" + e.links.Query(dataendpoint.Link{Registry: reg.Name, Region: region, LoginServer: reg.LoginServer,
		Correlation: corr, Repository: repo, Digest: d, Expiry: time.Now().Add(linkTTL)})
}

// storageLink is a read-only SAS link to the blob in the registry's container, as ACR's:
// https://<account>.blob.core.windows.net/<container>//docker/registry/v2/blobs/sha256/<2>/<hex>/data?<sas>&regid=<id>.
func (e *Emulator) storageLink(r *http.Request, reg *store.Registry, d digest.Digest) (string, error) {
	s := e.services()
	id, container := contentContainer(reg)
	if err := s.mountContent(container, e.st); err != nil {
		return "", err
	}
	o, _ := network.OriginFrom(r.Context())
	base := storage.AccountURL(contentAccount, r.Host, r.TLS != nil, o.Name != "", e.HTTPSURL())
	if r.TLS == nil && o.Name == "" && r.Host != "" {
		// A pull over plain HTTP (docker's insecure registries, crane --insecure) stays on
		// plain HTTP, on the host it called: its client need not trust the emulator's CA,
		// which a link to the HTTPS listener would require. ACR itself is HTTPS only.
		base = "http://" + r.Host + "/" + contentAccount + storage.BlobSuffix
	}
	link, err := s.storage.SignedURL(base, storage.Ref{Account: contentAccount, Container: container, Blob: blobPath(d)}, storage.PermRead, linkTTL)
	if err != nil {
		return "", err
	}
	return link + "&regid=" + id, nil
}

// redirectedDownload reports whether r is for a registry's content on the emulator's own host
// (a path-style link of the content account, where the registry's 307 sent the client).
func redirectedDownload(r *http.Request) bool {
	if strings.Contains(strings.ToLower(r.Host), ".blob.") {
		return false
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	first = strings.ToLower(first)
	return first == contentAccount || first == contentAccount+storage.BlobSuffix
}

// contentContainer names a registry's container: its registry id (32 hex digits, derived from
// its ARM id so links survive a restart) and a suffix, as ACR's
// df5a80a5cb57435d8ae8597be148f036-dpwt5reg3l.
func contentContainer(reg *store.Registry) (id, container string) {
	sum := sha256.Sum256([]byte(strings.ToLower(reg.ID)))
	id = hex.EncodeToString(sum[:16])
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	suffix := make([]byte, 10)
	for i := range suffix {
		suffix[i] = letters[int(sum[16+i])%len(letters)]
	}
	return id, id + "-" + string(suffix)
}

// blobPath is where ACR's storage keeps a blob: /docker/registry/v2/blobs/sha256/<2>/<hex>/data
// (distribution's layout; the leading slash gives ACR's links their double slash).
func blobPath(d digest.Digest) string {
	return "/docker/registry/v2/blobs/" + d.Algorithm().String() + "/" + d.Encoded()[:2] + "/" + d.Encoded() + "/data"
}

// contentSource serves a registry's container from the blob store, streamed: layers of any
// size, with ranges, and an on-disk store's files by sendfile(2) over plain HTTP.
type contentSource struct{ st *store.Store }

func (c contentSource) Open(name string) (storage.Content, bool) {
	rest, ok := strings.CutPrefix(name, "/docker/registry/v2/blobs/")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 4 || parts[3] != "data" {
		return nil, false
	}
	d, err := digest.Parse(parts[0] + ":" + parts[2])
	if err != nil || !strings.HasPrefix(d.Encoded(), parts[1]) || len(parts[1]) != 2 {
		return nil, false
	}
	b, ok := c.st.Blobs().Open(d)
	if !ok {
		return nil, false
	}
	return b, true
}

// mountContent mounts a registry's container on the storage once (a reset brings a new
// storage, mounted again on first use).
func (s *services) mountContent(container string, st *store.Store) error {
	if _, done := s.mounts.Load(container); done {
		return nil
	}
	if err := s.storage.AddAccount(contentAccount); err != nil {
		return err
	}
	if err := s.storage.Mount(contentAccount, container, contentSource{st}); err != nil {
		return err
	}
	s.mounts.Store(container, true)
	return nil
}

// viaAzureName reports whether r came to an Azure name (<name>.azurecr.io) through one of the
// emulator's proxies or from a simulated service: its links name other Azure hosts
// (<account>.blob.core.windows.net, <name>.<region>.data.azurecr.io), which reach the emulator
// the same way, as storage.AccountURL does.
func viaAzureName(r *http.Request) bool {
	o, _ := network.OriginFrom(r.Context())
	h := strings.ToLower(r.Host)
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	return o.Name != "" && (strings.HasSuffix(h, ".azurecr.io") || strings.HasSuffix(h, ".windows.net") || strings.HasSuffix(h, ".azure.com"))
}

// ownBase is the base of a path-style link for a client that reached the emulator directly:
// the host it called when over TLS, else the main HTTPS listener.
func (e *Emulator) ownBase(r *http.Request) string {
	if r.TLS != nil && r.Host != "" {
		return "https://" + r.Host
	}
	return strings.TrimSuffix(e.HTTPSURL(), "/")
}

type dataRegionKey struct{}

// dataEndpointFor finds the data endpoint a request is for: by its host name
// (<name>.<region>.data.azurecr.io, reached through a proxy) or, path-style, by the first
// segment of its path on the emulator's own listener, which it strips. named is false when the
// request names no data endpoint; sr is nil when it names one that is not served: a region the
// registry is not in, or a registry without data endpoints (on Azure the name does not resolve).
func (e *Emulator) dataEndpointFor(r *http.Request) (sr *servedRegistry, dr *http.Request, named bool) {
	name, region, ok := dataendpoint.ParseHost(r.Host)
	path := r.URL.Path
	if !ok {
		first, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if name, region, ok = dataendpoint.ParseHost(first); !ok || strings.Contains(first, ":") {
			return nil, nil, false
		}
		path = "/" + rest
	}
	reg, err := e.st.GetRegistry(name)
	if err != nil || reg == nil || !arm.DataEndpointsOn(e.st, reg) {
		return nil, nil, true
	}
	locs, err := arm.RegistryLocations(e.st, reg, e.world.Location)
	if err != nil || !slices.Contains(locs, region) {
		return nil, nil, true
	}
	e.mu.RLock()
	sr = e.registries[reg.Name]
	e.mu.RUnlock()
	if sr == nil || sr.data == nil {
		return nil, nil, true
	}
	dr = r.WithContext(context.WithValue(r.Context(), dataRegionKey{}, region))
	if path != r.URL.Path {
		// Path-style: the request is for the data endpoint by name, as the audit records it.
		u := *r.URL
		u.Path, u.RawPath = path, ""
		dr.URL, dr.Host = &u, dataendpoint.Host(name, region)
	}
	return sr, dr, true
}

// dataEndpoint serves a registry's data endpoints, behind its network gate: the blob a valid
// link names. The answers to a link that is tampered with or expired, and to other paths, are
// UNCONFIRMED: 403 DENIED and 404, in the registry's envelope.
func (e *Emulator) dataEndpoint(name string, content *registry.Registry) http.Handler {
	return httpx.ACRHeaders(httpx.RegistryHandler(func(w http.ResponseWriter, r *http.Request) error {
		region, _ := r.Context().Value(dataRegionKey{}).(string)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return httpx.NewRegistryError(http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.")
		}
		if r.URL.Path != "/" {
			return httpx.NewRegistryError(http.StatusNotFound, "NOT_FOUND", "the data endpoint serves download links only")
		}
		link, err := e.links.Verify(name, region, r.URL.Query())
		if err != nil {
			return httpx.NewRegistryError(http.StatusForbidden, "DENIED", err.Error())
		}
		content.Download(w, r, link.Repository, link.Digest)
		return nil
	}))
}

// privateRoute resolves how a VNet reaches registry name on a request for one of its private
// endpoints' members (the login server's "registry", or a data endpoint's): privately when the
// VNet's DNS has the member's name (every name of its approved endpoints, unless the world
// lists the VNet's privateDnsRecords), else by the public endpoint.
func (e *Emulator) privateRoute(name string, member func(r *http.Request) string) func(r *http.Request, vnet string) network.Route {
	return func(r *http.Request, vnet string) network.Route {
		var rt network.Route
		pes, err := e.st.ListPrivateEndpoints()
		if err != nil {
			e.log.Error("private endpoints", "err", err)
		}
		reg, _ := e.st.GetRegistry(name)
		want := member(r)
		for _, pe := range pes {
			if !strings.EqualFold(pe.VNet, vnet) || pe.Status != "Approved" {
				continue
			}
			if reg == nil || !strings.EqualFold(pe.RegistryID, reg.ID) {
				rt.Endpoints = append(rt.Endpoints, pe.RegistryID)
				continue
			}
			members, err := arm.Members(e.st, pe, e.world.Location)
			if err != nil {
				e.log.Error("private endpoint members", "endpoint", pe.ID, "err", err)
			}
			for _, m := range members {
				if m.Name != want {
					continue
				}
				if e.resolvesPrivately(vnet, m.FQDN) {
					rt.Endpoints = append(rt.Endpoints, pe.RegistryID)
					rt.IP, _ = netip.ParseAddr(m.IP)
				} else {
					rt.Unresolved = append(rt.Unresolved, pe.RegistryID)
				}
			}
		}
		return rt
	}
}

// resolvesPrivately reports whether a VNet's DNS resolves fqdn to its private endpoint.
func (e *Emulator) resolvesPrivately(vnet, fqdn string) bool {
	for _, o := range e.world.Origins {
		if !strings.EqualFold(o.Name, vnet) || o.PrivateDNSRecords == nil {
			continue
		}
		for _, rec := range o.PrivateDNSRecords {
			if strings.EqualFold(strings.TrimSuffix(rec, "."), fqdn) {
				return true
			}
		}
		return false
	}
	return true
}

// addressEndpoints hands out the addresses of the world's private endpoints, in the world's
// order, once their registries exist (an endpoint has a member per region of its registry).
func (e *Emulator) addressEndpoints() error {
	for _, o := range e.world.Origins {
		pes, err := e.st.ListPrivateEndpoints()
		if err != nil {
			return err
		}
		names := map[string]bool{}
		for _, we := range o.Endpoints {
			names[strings.ToLower(we.Name)] = true
		}
		for _, reg := range o.PrivateEndpoints {
			names[strings.ToLower(o.Name+"-"+reg)] = true
		}
		for _, pe := range pes {
			if strings.EqualFold(pe.VNet, o.Name) && names[strings.ToLower(pe.Name)] {
				if _, err := arm.Members(e.st, pe, e.world.Location); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
