package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/e2e/fidelity"
	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// TestFidelity replays, against the built binary, the requests of the Azure CLI's recordings of
// real Azure (as derived into e2e/fidelity/testdata/shapes.json) and compares each answer's
// status and JSON shape with Azure's (fidelity.Compare). Every gap found must be listed in
// e2e/fidelity/testdata/known-gaps.txt, and every listed gap must still be found: a family that
// matched keeps matching, and the list only shrinks as gaps are fixed. FIDELITY_UPDATE=1
// rewrites the list from what the run finds (keeping the reasons of the gaps still there);
// FIDELITY_DEBUG=1 logs the body of every answer whose status is not the recorded one.
func TestFidelity(t *testing.T) {
	root := mustRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "e2e/fidelity/testdata/shapes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var data fidelity.Data
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatal(err)
	}
	gapsFile := filepath.Join(root, "e2e/fidelity/testdata/known-gaps.txt")
	known := readKnownGaps(t, gapsFile)

	emu := harness.Start(t)
	tok, err := entraToken(t, emu, harness.ClientID, harness.ClientSecret, "https://management.azure.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	r := &replayer{t: t, base: "https://" + emu.RegistryHost(), token: tok, client: sdkClientOptions(t, emu).Transport.(*http.Client)}
	variance := fidelity.NewVariance(data)

	found := map[string]bool{}
	type tally struct{ matched, total int }
	families := map[string]*tally{}
	for _, rec := range data.Recordings {
		for _, g := range r.recording(rec, variance) {
			found[g] = true
		}
		for i, in := range rec.Interactions {
			f := families[in.Family]
			if f == nil {
				f = &tally{}
				families[in.Family] = f
			}
			f.total++
			if !r.gapped[fmt.Sprintf("%s#%d", rec.Name, i)] {
				f.matched++
			}
		}
	}

	var names []string
	for f := range families {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		t.Logf("%-45s %3d of %3d interactions match", f, families[f].matched, families[f].total)
	}

	if os.Getenv("FIDELITY_UPDATE") == "1" {
		writeKnownGaps(t, gapsFile, found, known)
		return
	}
	var fresh, fixed []string
	for g := range found {
		if _, ok := known[g]; !ok {
			fresh = append(fresh, g)
		}
	}
	for g := range known {
		if !found[g] {
			fixed = append(fixed, g)
		}
	}
	sort.Strings(fresh)
	sort.Strings(fixed)
	if len(fresh) > 0 {
		t.Errorf("%d new fidelity gaps (the emulator's answer no longer matches Azure's recording):\n  %s", len(fresh), strings.Join(fresh, "\n  "))
	}
	if len(fixed) > 0 {
		t.Errorf("%d known gaps are fixed: remove them from e2e/fidelity/testdata/known-gaps.txt (or run with FIDELITY_UPDATE=1):\n  %s",
			len(fixed), strings.Join(fixed, "\n  "))
	}
}

// replayer sends a recording's requests with its names mapped onto the emulator's world.
type replayer struct {
	t      *testing.T
	base   string
	token  string
	client *http.Client
	gapped map[string]bool // recording#index of every interaction with a gap

	// per recording
	asyncURL, locationURL string
	// names maps, per collection (runs, privateEndpointConnections), the names Azure made to
	// the emulator's; fresh are the emulator's not yet mapped, in the order it made them.
	names map[string]map[string]string
	fresh map[string][]string
}

// recording replays one recording in the resource groups it creates first and deletes after, and
// returns its gaps, each named "<recording>#<index> <METHOD> <family>: <gap>".
func (r *replayer) recording(rec fidelity.Recording, v fidelity.Variance) []string {
	if r.gapped == nil {
		r.gapped = map[string]bool{}
	}
	r.asyncURL, r.locationURL, r.names, r.fresh = "", "", map[string]map[string]string{}, map[string][]string{}
	groups, locations := groupsOf(rec)
	for i, group := range groups {
		r.send(http.MethodPut, "/subscriptions/"+subscription+"/resourcegroups/"+group+"?api-version=2021-04-01",
			[]byte(`{"location":"`+locations[i]+`"}`))
		defer r.send(http.MethodDelete, "/subscriptions/"+subscription+"/resourcegroups/"+group+"?api-version=2021-04-01", nil)
	}
	var gaps []string
	for i, in := range rec.Interactions {
		id := fmt.Sprintf("%s#%d %s %s", rec.Name, i, in.Method, in.Family)
		var body []byte
		if in.Request != nil {
			b, err := fidelity.Unflatten(in.Request)
			if err != nil {
				r.t.Fatalf("%s: %v", id, err)
			}
			body = []byte(strings.ReplaceAll(string(b), "{subscriptionId}", subscription))
		}
		target, ok := r.target(in)
		if !ok {
			gaps = append(gaps, id+": unanswered no operation URL to poll")
			r.gapped[fmt.Sprintf("%s#%d", rec.Name, i)] = true
			continue
		}
		status, header, resp := r.send(in.Method, target, body)
		if in.Family == "registries/runs" && in.Method == http.MethodGet && strings.Contains(in.Template, "{runName}") {
			status, header, resp = r.finished(target, status, header, resp)
		}
		if in.Poll == "" { // a poll polls the URL of the request right before it
			r.asyncURL, r.locationURL = header.Get("Azure-AsyncOperation"), header.Get("Location")
		}
		if in.Family == "registries/scheduleRun" {
			var run struct{ Name string }
			if json.Unmarshal(resp, &run) == nil && run.Name != "" {
				r.fresh["runs"] = append(r.fresh["runs"], run.Name)
			}
		}
		if in.Family == "Microsoft.Network/privateEndpoints" && in.Method == http.MethodPut && status/100 == 2 {
			r.connectionsOf(in, target)
		}
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.Unmarshal(resp, &e)
		if os.Getenv("FIDELITY_DEBUG") != "" && status != in.Status {
			r.t.Logf("%s: %d %s", id, status, resp)
		}
		for _, g := range fidelity.Compare(in, status, e.Error.Code, fidelity.ShapeOf(resp), v) {
			gaps = append(gaps, id+": "+g.String())
			r.gapped[fmt.Sprintf("%s#%d", rec.Name, i)] = true
		}
	}
	return gaps
}

// target is the URL path and query of an interaction in the emulator's world: the
// subscription, the operation URL the emulator handed out for a poll, its run ids for Azure's.
func (r *replayer) target(in fidelity.Interaction) (string, bool) {
	switch in.Poll {
	case "async", "location":
		u := r.asyncURL
		if in.Poll == "location" {
			u = r.locationURL
		}
		if u == "" {
			return "", false
		}
		p, err := url.Parse(u)
		if err != nil {
			return "", false
		}
		return p.RequestURI(), true
	}
	segs := strings.Split(strings.ReplaceAll(in.Path, "{subscriptionId}", subscription), "/")
	for i := 1; i < len(segs); i++ {
		for _, coll := range []string{"runs", "privateEndpointConnections"} {
			if strings.EqualFold(segs[i-1], coll) {
				segs[i] = r.name(coll, segs[i])
			}
		}
	}
	q := url.Values{}
	if in.Query != "" {
		q, _ = url.ParseQuery(in.Query)
	}
	if in.APIVersion != "" {
		q.Set("api-version", in.APIVersion)
	}
	return strings.Join(segs, "/") + "?" + q.Encode(), true
}

// finished polls a run until it ends, as az does before it shows one (the recordings' run
// reads are of ended runs), for at most 30 s.
func (r *replayer) finished(target string, status int, header http.Header, resp []byte) (int, http.Header, []byte) {
	for deadline := time.Now().Add(30 * time.Second); status == http.StatusOK && time.Now().Before(deadline); {
		var run struct {
			Properties struct{ Status string } `json:"properties"`
		}
		_ = json.Unmarshal(resp, &run)
		switch run.Properties.Status {
		case "Succeeded", "Failed", "Canceled", "Error", "Timeout":
			return status, header, resp
		}
		time.Sleep(100 * time.Millisecond)
		status, header, resp = r.send(http.MethodGet, target, nil)
	}
	return status, header, resp
}

// name maps a name Azure made (a run id, a private endpoint connection's name) onto the
// emulator's, in the order they were made.
func (r *replayer) name(coll, recorded string) string {
	if r.names[coll] == nil {
		r.names[coll] = map[string]string{}
	}
	if n, ok := r.names[coll][recorded]; ok {
		return n
	}
	if len(r.fresh[coll]) == 0 {
		return recorded
	}
	r.names[coll][recorded], r.fresh[coll] = r.fresh[coll][0], r.fresh[coll][1:]
	return r.names[coll][recorded]
}

// connectionsOf notes the connections a private endpoint just made on the registries it names
// (the registry names them itself), reading them as az acr private-endpoint-connection list does.
func (r *replayer) connectionsOf(pe fidelity.Interaction, target string) {
	peID, _, _ := strings.Cut(target, "?")
	for k, v := range pe.Request {
		reg, ok := v.(string)
		if !ok || !strings.HasSuffix(k, ".properties.privateLinkServiceId") {
			continue
		}
		reg = strings.ReplaceAll(reg, "{subscriptionId}", subscription)
		status, _, body := r.send(http.MethodGet, reg+"/privateEndpointConnections?api-version=2021-08-01-preview", nil)
		var list struct {
			Value []struct {
				Name       string
				Properties struct{ PrivateEndpoint struct{ ID string } }
			}
		}
		if status != http.StatusOK || json.Unmarshal(body, &list) != nil {
			r.t.Fatalf("the connections of %s: %d %s", reg, status, body)
		}
		for _, c := range list.Value {
			if strings.EqualFold(c.Properties.PrivateEndpoint.ID, peID) {
				r.fresh["privateEndpointConnections"] = append(r.fresh["privateEndpointConnections"], c.Name)
			}
		}
	}
}

func (r *replayer) send(method, target string, body []byte) (int, http.Header, []byte) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.base+target, bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := r.client.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	return res.StatusCode, res.Header, b
}

// groupsOf are the resource groups a recording works in, in order of first use, each with the
// location of its first registry (eastus when it has none).
func groupsOf(rec fidelity.Recording) (groups, locations []string) {
	at := map[string]int{}
	for _, in := range rec.Interactions {
		_, rest, ok := strings.Cut(in.Path, "/resourceGroups/")
		if !ok {
			_, rest, ok = strings.Cut(in.Path, "/resourcegroups/")
		}
		if !ok {
			continue
		}
		group, _, _ := strings.Cut(rest, "/")
		i, seen := at[strings.ToLower(group)]
		if !seen {
			i = len(groups)
			at[strings.ToLower(group)] = i
			groups, locations = append(groups, group), append(locations, "")
		}
		if l, ok := in.Request["location"].(string); ok && in.Family == "registries" && in.Method == http.MethodPut && locations[i] == "" {
			locations[i] = l
		}
	}
	for i := range locations {
		if locations[i] == "" {
			locations[i] = "eastus"
		}
	}
	return groups, locations
}

// readKnownGaps reads the list: one gap a line, "# ..." comments, a reason after " # ".
func readKnownGaps(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		gap, reason, _ := strings.Cut(line, " # ")
		out[strings.TrimSpace(gap)] = strings.TrimSpace(reason)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func writeKnownGaps(t *testing.T, path string, found map[string]bool, known map[string]string) {
	t.Helper()
	var lines []string
	for g := range found {
		line := g
		if reason := known[g]; reason != "" {
			line += " # " + reason
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	head := "# Known fidelity gaps: what the emulator answers differently from Azure's recordings, one gap a\n" +
		"# line (recording#interaction METHOD family: gap), a reason after \" # \". TestFidelity fails on a\n" +
		"# gap missing here and on a gap listed here that is fixed, so this list only shrinks.\n"
	if err := os.WriteFile(path, []byte(head+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d known gaps to %s", len(lines), path)
}
