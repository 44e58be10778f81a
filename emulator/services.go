package emulator

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/acr-emulator/acr-emulator/emulator/network"
)

// AzureService describes a simulated Azure service as the registry sees it.
type AzureService struct {
	Name string // network.ServiceACI, ServiceTasks, ServiceAppService...
	// SystemIdentity marks requests made with the service resource's system-assigned identity
	// (what the 2025 ACR Tasks rule looks at).
	SystemIdentity bool
	// OutboundIP is the public IP the service's requests come from; untrusted services (App
	// Service) pass a firewall only when it is listed. Default 20.0.0.1.
	OutboundIP string
	// VNet, when set, is the virtual network the service's resource runs in (VNet
	// integration): its requests come from that VNet, reaching a registry privately through
	// the VNet's approved private endpoints and its public endpoint from OutboundIP. Such a
	// service is never trusted, whatever its name.
	VNet string
}

// ServiceTransport returns an HTTP transport whose requests reach this emulator in-process, from
// the Azure-service origin of svc. It is the only way to that origin: it does not exist on the
// network, so no client can pretend to be a trusted Azure service. Requests keep their URL's
// host (a login server, the Entra authority) and are served as over HTTPS.
func (e *Emulator) ServiceTransport(svc AzureService) http.RoundTripper {
	ip := svc.OutboundIP
	if ip == "" {
		ip = "20.0.0.1"
	}
	addr, _ := netip.ParseAddr(ip)
	o := network.Origin{Kind: network.AzureService, Name: svc.Name, Service: svc.Name, SystemIdentity: svc.SystemIdentity, IP: addr}
	if svc.VNet != "" {
		o.Kind, o.VNet = network.PrivateEndpoint, svc.VNet
	}
	return &inProcess{handler: e.dispatch(nil), origin: o}
}

type inProcess struct {
	handler http.Handler
	origin  network.Origin
}

// RoundTrip serves the request with the emulator's own handler, the way an in-memory fixture
// transport does, with the service's origin attached.
func (t *inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(network.WithOrigin(req.Context(), t.origin))
	r.RequestURI = r.URL.RequestURI()
	r.Host = req.URL.Host
	r.RemoteAddr = t.origin.IP.String() + ":443"
	if req.URL.Scheme == "https" {
		r.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: req.URL.Hostname()}
	}
	if r.Body == nil {
		r.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.handler.ServeHTTP(rec, r)
	res := rec.Result()
	res.Request = req
	return res, nil
}
