package emulator_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/faults"
	"github.com/acr-emulator/acr-emulator/emulator/world"
)

func TestFaultsAPI(t *testing.T) {
	w := world.Default()
	w.Registries[0].Faults = []faults.Rule{{Route: faults.RouteManifest, Status: 503}}
	emu := emulatortest.New(t, emulatortest.WithWorld(w))
	api := emu.HTTPURL() + "/_emulator/faults"
	list := func() []faults.Rule {
		t.Helper()
		res, err := http.Get(api)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out struct{ Faults []faults.Rule }
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out.Faults
	}
	ping := func() int {
		t.Helper()
		res, err := emu.Client().Get("https://" + emu.Registry().Host + "/v2/app/manifests/v1")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := list(); len(got) != 1 || got[0].Registry != "myregistry" || ping() != 503 {
		t.Fatalf("the world's fault: %+v", got)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"registry":"nosuch","status":500}`, `no registry "nosuch"`},
		{`{"registry":"myregistry","status":200}`, "4xx or 5xx"},
		{`{"registry":"myregistry","stauts":500}`, "unknown field"},
		{`[{"registry":"myregistry","status":500},{"registry":"myregistry"}]`, "fault 1"},
	} {
		res, err := http.Post(api, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		var out struct{ Error string }
		_ = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if res.StatusCode != 400 || !strings.Contains(out.Error, tc.want) {
			t.Errorf("%s: %d %q, want 400 %q", tc.body, res.StatusCode, out.Error, tc.want)
		}
	}
	if got := list(); len(got) != 1 {
		t.Fatalf("a refused list added rules: %+v", got)
	}
	req, _ := http.NewRequest(http.MethodDelete, api, nil)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("DELETE: %v", err)
	}
	if got := list(); len(got) != 0 || ping() != 401 {
		t.Fatalf("after DELETE: %+v", got)
	}
	// A reset returns to the world, its faults included.
	if res, err := http.Post(emu.HTTPURL()+"/_emulator/reset", "", nil); err != nil || res.StatusCode != 200 {
		t.Fatalf("reset: %v", err)
	}
	if got := list(); len(got) != 1 || ping() != 503 {
		t.Fatalf("after a reset: %+v", got)
	}
}
