package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The azurerm provider, run with TF_LOG=DEBUG, dumps every ARM exchange into tofu's log: a line
// "[DEBUG] AzureRM Request: " followed by the request as sent (request line, headers, body), and
// a line "[DEBUG] AzureRM Response for <url>: " followed by the response. Each dumped line
// carries tofu's "<time> [DEBUG] provider.terraform-provider-azurerm: " prefix. Reading them back
// lets a failing step name the request the emulator did not answer as Azure does.

// httpExchange is one request the provider sent and the answer it got, as it logged them.
type httpExchange struct {
	Method, URL string
	Status      int // 0: no response logged
	Request     []string
	Response    []string
}

var providerLine = regexp.MustCompile(`^\S+ \[([A-Z]+)\]\s+provider\.terraform-provider-azurerm(?:: (.*))?$`)

// logTag is the level tag that starts each log statement of the provider ("[DEBUG] ...").
var logTag = regexp.MustCompile(`^\[(TRACE|DEBUG|INFO|WARN|ERROR)\] `)

// exchangesInLog reads the provider's ARM exchanges from a tofu log, in the order sent.
// Responses are matched to the oldest unanswered request for the same URL: resources are
// created concurrently, so exchanges interleave.
func exchangesInLog(log string) []*httpExchange {
	var (
		out     []*httpExchange
		pending = map[string][]*httpExchange{}
		block   *[]string // the dump being read
		req     *httpExchange
	)
	finishRequest := func() {
		if req == nil {
			return
		}
		req.Method, req.URL = requestTarget(req.Request)
		pending[req.URL] = append(pending[req.URL], req)
		req = nil
	}
	for _, line := range strings.Split(log, "\n") {
		m := providerLine.FindStringSubmatch(strings.TrimRight(line, "\r"))
		if m == nil {
			// Another component's line, or a continuation of a multi-line statement.
			finishRequest()
			block = nil
			continue
		}
		level, content := m[1], m[2]
		switch {
		case strings.TrimSpace(content) == "[DEBUG] AzureRM Request:":
			finishRequest()
			req = &httpExchange{}
			out = append(out, req)
			block = &req.Request
		case strings.HasPrefix(content, "[DEBUG] AzureRM Response for "):
			finishRequest()
			url := strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(content, "[DEBUG] AzureRM Response for ")), ":")
			x := &httpExchange{URL: url}
			if q := pending[url]; len(q) > 0 {
				x, pending[url] = q[0], q[1:]
			} else {
				out = append(out, x)
			}
			block = &x.Response
		case level != "DEBUG" || logTag.MatchString(content) || strings.Contains(content, "@caller="):
			// The next statement: dumps are logged at DEBUG, one line each, and never carry
			// the structured fields of the plugin SDK's own statements.
			finishRequest()
			block = nil
		case block != nil:
			*block = append(*block, content)
		}
	}
	finishRequest()
	for _, x := range out {
		x.Status = responseStatus(x.Response)
	}
	return out
}

// requestTarget reads "PUT /path?query HTTP/1.1" and the Host header of a dumped request.
func requestTarget(lines []string) (method, url string) {
	if len(lines) == 0 {
		return "", ""
	}
	f := strings.Fields(lines[0])
	if len(f) < 2 {
		return "", ""
	}
	host := ""
	for _, l := range lines[1:] {
		if h, ok := strings.CutPrefix(l, "Host: "); ok {
			host = strings.TrimSpace(h)
			break
		}
	}
	return f[0], "https://" + host + f[1]
}

func responseStatus(lines []string) int {
	if len(lines) == 0 {
		return 0
	}
	f := strings.Fields(lines[0])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// failureReport describes the last exchange ARM answered with an error (or never answered),
// and the last exchange of all when that is a later one, for a failing tofu command.
func failureReport(log string) string {
	xs := exchangesInLog(log)
	if len(xs) == 0 {
		return "(the provider logged no ARM exchange)"
	}
	var failing *httpExchange
	for i, x := range xs {
		if (x.Status == 0 || x.Status >= 400) && !existenceCheck(xs, i) {
			failing = x
		}
	}
	var b strings.Builder
	if failing == nil {
		b.WriteString("(every ARM exchange the provider logged succeeded)\n")
	} else {
		fmt.Fprintf(&b, "--- last failing HTTP exchange (of %d) ---\n%s", len(xs), failing)
	}
	if last := xs[len(xs)-1]; last != failing {
		fmt.Fprintf(&b, "--- the last HTTP exchange ---\n%s", last)
	}
	return b.String()
}

// existenceCheck: the provider looks a resource up before creating it (and after deleting
// it), and a 404 is then the answer it wants. It is the GET before a later PUT to the same
// resource, or the GET after a DELETE of it.
func existenceCheck(xs []*httpExchange, i int) bool {
	x := xs[i]
	if x.Method != http.MethodGet || x.Status != http.StatusNotFound {
		return false
	}
	path, _, _ := strings.Cut(x.URL, "?")
	for j, y := range xs {
		if p, _, _ := strings.Cut(y.URL, "?"); p == path && (j > i && y.Method == http.MethodPut || j < i && y.Method == http.MethodDelete) {
			return true
		}
	}
	return false
}

func (x *httpExchange) String() string {
	var b strings.Builder
	for _, l := range trimBlank(x.Request) {
		b.WriteString("> " + clip(l) + "\n")
	}
	if len(x.Response) == 0 {
		b.WriteString("< (no response logged)\n")
	}
	for _, l := range trimBlank(x.Response) {
		b.WriteString("< " + clip(l) + "\n")
	}
	return b.String()
}

func trimBlank(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// clip keeps a failure message readable when a body is large.
func clip(s string) string {
	const max = 4000
	if len(s) > max {
		return s[:max] + fmt.Sprintf("... (%d more bytes)", len(s)-max)
	}
	return s
}

// TestExchangesInLog reads a log shaped as tofu writes it (lines from a real run, shortened):
// the lookup before a create, two interleaved exchanges, the second answered first, and a
// multi-line error statement. The failing one is the last sent, so the report names it alone.
func TestExchangesInLog(t *testing.T) {
	p := "2026-12-07T11:43:51.645Z [DEBUG] provider.terraform-provider-azurerm"
	reg := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r"
	log := strings.Join([]string{
		"2026-12-07T11:43:50.890Z [DEBUG] provider.terraform-provider-azurerm: [DEBUG] POST https://login.microsoftonline.com/t/oauth2/v2.0/token",
		p + ": [DEBUG] AzureRM Request: ",
		p + ": GET " + reg + "?api-version=2025-11-01 HTTP/1.1",
		p + ": Host: management.azure.com",
		p,
		p + ": [DEBUG] AzureRM Response for https://management.azure.com" + reg + "?api-version=2025-11-01: ",
		p + ": HTTP/1.1 404 Not Found",
		p,
		p + `: {"error":{"code":"ResourceNotFound","message":"not yet"}}`,
		p + ": [DEBUG] AzureRM Request: ",
		p + ": PUT " + reg + "?api-version=2025-11-01 HTTP/1.1",
		p + ": Host: management.azure.com",
		p + ": Content-Type: application/json; charset=utf-8",
		p,
		p + `: {"location":"eastus"}`,
		p,
		p + ": [DEBUG] PUT https://management.azure.com" + reg + "?api-version=2025-11-01",
		p + ": [DEBUG] AzureRM Request: ",
		p + ": GET " + reg + "/replications?api-version=2025-11-01 HTTP/1.1",
		p + ": Host: management.azure.com",
		p,
		p + ": [DEBUG] AzureRM Response for https://management.azure.com" + reg + "/replications?api-version=2025-11-01: ",
		p + ": HTTP/1.1 404 Not Found",
		p + ": Content-Type: application/json; charset=utf-8",
		p,
		p + `: {"error":{"code":"NotFound","message":"nope"}}`,
		p,
		"2026-12-07T11:44:01.696Z [ERROR] provider.terraform-provider-azurerm: Response contains error diagnostic: @caller=x",
		"  diagnostic_summary=",
		"  | retrieving replications: unexpected status 404",
		p + ": [DEBUG] AzureRM Response for https://management.azure.com" + reg + "?api-version=2025-11-01: ",
		p + ": HTTP/1.1 201 Created",
		p,
		p + `: {"id":"x"}`,
		"2026-12-07T11:44:01.697Z [DEBUG] State storage *statemgr.Filesystem declined to persist a state snapshot",
	}, "\n")
	xs := exchangesInLog(log)
	if len(xs) != 3 {
		t.Fatalf("got %d exchanges: %v", len(xs), xs)
	}
	check, put, list := xs[0], xs[1], xs[2]
	if check.Method != "GET" || check.Status != 404 || !existenceCheck(xs, 0) || existenceCheck(xs, 2) {
		t.Errorf("existence check: %+v", check)
	}
	if put.Method != "PUT" || put.URL != "https://management.azure.com"+reg+"?api-version=2025-11-01" || put.Status != 201 ||
		trimBlank(put.Request)[len(trimBlank(put.Request))-1] != `{"location":"eastus"}` || trimBlank(put.Response)[len(trimBlank(put.Response))-1] != `{"id":"x"}` {
		t.Errorf("PUT exchange: %+v", put)
	}
	if list.Method != "GET" || list.Status != 404 || len(trimBlank(list.Response)) != 4 {
		t.Errorf("GET exchange: %+v", list)
	}
	r := failureReport(log)
	if !strings.Contains(r, "last failing HTTP exchange (of 3)") || !strings.Contains(r, "> GET "+reg+"/replications") ||
		!strings.Contains(r, `< {"error":{"code":"NotFound","message":"nope"}}`) || strings.Contains(r, "the last HTTP exchange") {
		t.Errorf("report:\n%s", r)
	}
}
