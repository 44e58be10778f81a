package network

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestGateRoutes(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	vnet := Origin{Kind: PrivateEndpoint, Name: "corpvnet", VNet: "corpvnet", IP: netip.MustParseAddr("20.0.0.9"), PrivateIP: netip.MustParseAddr("10.0.0.4")}
	peIP := netip.MustParseAddr("10.0.0.6")
	tests := []struct {
		desc       string
		o          Origin
		host       string
		route      Route
		status     int
		entry      string // origin|clientIp|host|privateIp|decision|rule
		deniedText string
	}{
		{"through the private endpoint its DNS resolves the name to", vnet, "myregistry.eastus.data.azurecr.io",
			Route{Endpoints: []string{thisRegistry}, IP: peIP}, 200,
			"corpvnet|10.0.0.4|myregistry.eastus.data.azurecr.io|10.0.0.6|allowed|private-endpoint", ""},
		{"the name missing from its DNS: the public endpoint, from its outbound IP", vnet, "myregistry.eastus.data.azurecr.io:443",
			Route{Unresolved: []string{thisRegistry}}, 403,
			"corpvnet|20.0.0.9|myregistry.eastus.data.azurecr.io||denied|private-dns-record-missing", "client with IP '20.0.0.9' is not allowed access"},
		{"a private endpoint to another registry only: the public endpoint", vnet, "myregistry.azurecr.io",
			Route{Endpoints: []string{otherRegistry}}, 403,
			"corpvnet|20.0.0.9|myregistry.azurecr.io||denied|public-network-access-disabled", "client with IP '20.0.0.9'"},
		{"an internet client is not routed", Origin{Kind: Internet, IP: netip.MustParseAddr("198.51.100.7")}, "myregistry.azurecr.io",
			Route{Endpoints: []string{thisRegistry}, IP: peIP}, 403,
			"internet|198.51.100.7|myregistry.azurecr.io||denied|public-network-access-disabled", "client with IP '198.51.100.7'"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			audit := NewAudit(10)
			asked := 0
			g := Gate(GateConfig{Registry: "myregistry", RegistryID: thisRegistry, Rules: func() (Rules, error) { return Rules{}, nil },
				Route: func(r *http.Request, v string) Route {
					asked++
					if v != "corpvnet" || r.Host != tc.host {
						t.Errorf("route asked for %s, %s", v, r.Host)
					}
					return tc.route
				}, Audit: audit, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, ok)
			req := httptest.NewRequest("GET", "https://"+tc.host+"/", nil).WithContext(WithOrigin(t.Context(), tc.o))
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, req)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.deniedText) {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if want := 0; tc.o.Kind == PrivateEndpoint {
				want = 1
				if asked != want {
					t.Errorf("route asked %d times", asked)
				}
			} else if asked != want {
				t.Errorf("an internet origin was routed")
			}
			es := audit.List("", "")
			if len(es) != 1 {
				t.Fatalf("entries %v", es)
			}
			e := es[0]
			if got := strings.Join([]string{e.Origin, e.ClientIP, e.Host, e.PrivateIP, e.Decision, e.Rule}, "|"); got != tc.entry {
				t.Errorf("entry %s, want %s", got, tc.entry)
			}
		})
	}
}
