package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

const registryPath = "/subscriptions/" + subscription + "/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry"

// finishedRun schedules a run that fails at once (its image is not there) and waits for its end.
func finishedRun(t *testing.T, emu *harness.Emulator) string {
	t.Helper()
	yaml := base64.StdEncoding.EncodeToString([]byte("steps:\n  - cmd: " + emu.RegistryHost() + "/absent/image:v1\n"))
	status, out := armCall(t, emu, http.MethodPost, registryPath+"/scheduleRun?api-version=2019-06-01-preview",
		`{"type":"EncodedTaskRunRequest","encodedTaskContent":"`+yaml+`","platform":{"os":"linux"}}`)
	if status != http.StatusOK {
		t.Fatalf("scheduleRun: %d %v", status, out)
	}
	runID := fmt.Sprint(out["properties"].(map[string]any)["runId"])
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		_, run := armCall(t, emu, http.MethodGet, registryPath+"/runs/"+runID+"?api-version=2019-06-01-preview", "")
		if st := fmt.Sprint(run["properties"].(map[string]any)["status"]); st == "Failed" {
			return runID
		} else if st != "Queued" && st != "Running" || time.Now().After(deadline) {
			t.Fatalf("run %s: %v", runID, run)
		}
	}
}

// plainClient trusts the emulator's CA and nothing else: no proxy, the system resolver, as a
// user's own program.
func plainClient(t *testing.T, emu *harness.Emulator) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(emu.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func fetch(t *testing.T, c *http.Client, link string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, link, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", link, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// TestRunLogLinks follows a run's listLogSasUrl link the way users' own code does, in Go,
// Python and Node on this machine, then tries what an attacker would: tampered, expired,
// guessed and unsigned links, and a registry token forwarded to storage.
func TestRunLogLinks(t *testing.T) {
	node := harness.Tool(t, "NODE", "node")
	python := harness.Tool(t, "PYTHON3", "/usr/bin/python3") // Debian's, with the azure and requests packages az uses
	emu := harness.Start(t)
	runID := finishedRun(t, emu)
	status, out := armCall(t, emu, http.MethodPost, registryPath+"/runs/"+runID+"/listLogSasUrl?api-version=2019-06-01-preview", "")
	if status != http.StatusOK {
		t.Fatalf("listLogSasUrl: %d %v", status, out)
	}
	link := fmt.Sprint(out["logLink"])
	shape := regexp.MustCompile(`^https://` + regexp.QuoteMeta(emu.RegistryHost()) + `/acrtasklogs\.blob\.core\.windows\.net/([0-9a-f]{32}-[a-z0-9]{10})/(logs/` + runID + `/rawtext\.log)\?sv=2023-01-03&se=[^&]+&sr=b&sp=r&sig=[^&]+$`)
	m := shape.FindStringSubmatch(link)
	if m == nil {
		t.Fatalf("logLink = %s", link)
	}
	container, blob := m[1], m[2]
	wantLog := "Run ID: " + runID + " failed after"

	client := plainClient(t, emu)
	res, body := fetch(t, client, link)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, wantLog) || res.Header.Get("x-ms-meta-Complete") != "failed" ||
		res.Header.Get("x-ms-blob-type") != "AppendBlob" || res.Header.Get("Server") != "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0" {
		t.Fatalf("Go: %d %v\n%s", res.StatusCode, res.Header, body)
	}
	// Through the proxy, the account's real name serves the same blob.
	proxied := &http.Client{Transport: client.Transport.(*http.Transport).Clone()}
	proxied.Transport.(*http.Transport).Proxy = http.ProxyURL(&url.URL{Scheme: "http", Host: emu.ProxyAddr})
	real := strings.Replace(link, emu.RegistryHost()+"/acrtasklogs.blob.core.windows.net", "acrtasklogs.blob.core.windows.net", 1)
	if res, body := fetch(t, proxied, real); res.StatusCode != http.StatusOK || !strings.Contains(body, wantLog) {
		t.Fatalf("the real name through the proxy: %d\n%s", res.StatusCode, body)
	}

	env := append(emu.Env(t), "REQUESTS_CA_BUNDLE="+emu.CAFile, "NODE_EXTRA_CA_CERTS="+emu.CAFile)
	for _, c := range []struct{ name, tool, script string }{
		{"Python urllib", python, `import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())`},
		{"Python requests", python, `import sys, requests; r = requests.get(sys.argv[1]); r.raise_for_status(); print(r.text)`},
		{"Azure SDK for Python", python, `import sys
from azure.storage.blob import BlobClient
b = BlobClient.from_blob_url(sys.argv[1])
print(b.container_name, b.blob_name, b.get_blob_properties().metadata)
print(b.download_blob().readall().decode())`},
		{"Node fetch", node, `fetch(process.argv[1]).then(async r => { if (!r.ok) throw new Error(r.status); console.log(await r.text()) })`},
		{"Node https", node, `require("https").get(process.argv[1], r => { let b = ""; r.on("data", d => b += d); r.on("end", () => { if (r.statusCode != 200) process.exit(1); console.log(b) }) }).on("error", e => { console.error(e); process.exit(1) })`},
	} {
		flag := "-e"
		if c.tool == python {
			flag = "-c"
		}
		out, err := emu.TryRunEnv(t, env, c.tool, flag, c.script, link)
		if err != nil || !strings.Contains(out, wantLog) {
			t.Errorf("%s: %v\n%s", c.name, err, out)
		}
		if c.name == "Azure SDK for Python" && !strings.Contains(out, container+" "+blob+" {'Complete': 'failed'}") {
			t.Errorf("the Python SDK parsed the link as %s", strings.SplitN(out, "\n", 2)[0])
		}
	}

	// Refusals, each with Azure Storage's code and text.
	authFailed := "<Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.\nRequestId:"
	otherRun := strings.Replace(link, "/logs/"+runID+"/", "/logs/ca99/", 1)
	oldForm := "https://" + emu.RegistryHost() + "/acrtasklogs/logs/" + subscription + "/demo-rg/myregistry/" + runID + "/rawtext.log?sv=2019-07-07&sr=b&sp=racwd&sig=acr-emulator"
	armToken, err := entraToken(t, emu, harness.ClientID, harness.ClientSecret, "https://management.azure.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, link string
		header     []string
		status     int
		code, text string
	}{
		{"another run's log with this link's signature (issue 12: guessing a run's log URL)", otherRun, nil, 403, "AuthenticationFailed",
			authFailed + `[^<]*</Message><AuthenticationErrorDetail>Signature did not match. String to sign used was r\n\n[^\n]+\n/blob/acrtasklogs/` + container + `/logs/ca99/rawtext.log\n`},
		{"the expiry pushed back", regexp.MustCompile(`se=[^&]+`).ReplaceAllString(link, "se=2000-01-01T00%3A00%3A00Z"), nil, 403, "AuthenticationFailed",
			authFailed + `[^<]*</Message><AuthenticationErrorDetail>Signed expiry time \[Sat, 01 Jan 2000 00:00:00 GMT\] must be after signed start time \[`},
		{"read permission widened", strings.Replace(link, "&sp=r&", "&sp=racwd&", 1), nil, 403, "AuthenticationFailed", authFailed},
		{"the old constant signature", oldForm, nil, 403, "AuthenticationFailed", authFailed + `[^<]*</Message><AuthenticationErrorDetail>se is mandatory. Cannot be empty</AuthenticationErrorDetail>`},
		{"no signature", link[:strings.Index(link, "?")], nil, 404, "ResourceNotFound", "The specified resource does not exist."},
		{"a registry token forwarded along with the link", link, []string{"Authorization", "Bearer " + armToken}, 400, "InvalidAuthenticationInfo",
			`Authentication information is not given in the correct format. Check the value of Authorization header.`},
	} {
		res, body := fetch(t, client, c.link, c.header...)
		if res.StatusCode != c.status || res.Header.Get("x-ms-error-code") != c.code || !regexp.MustCompile(c.text).MatchString(body) {
			t.Errorf("%s: %d %s\n%s", c.name, res.StatusCode, res.Header.Get("x-ms-error-code"), body)
		}
	}
	if out, err := emu.TryRunEnv(t, env, python, "-c", `import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1])
except urllib.error.HTTPError as e:
    print(e.code, e.headers["x-ms-error-code"])`, otherRun); err != nil || !strings.Contains(out, "403 AuthenticationFailed") {
		t.Errorf("Python urllib on a guessed link: %v %s", err, out)
	}

	// A link signed with the account key by the Azure SDK for Python: accepted while valid,
	// refused once its time frame is past. (The account key derives from the data directory's
	// storage-account-key, as emulator/storage does it.)
	secret, err := os.ReadFile(filepath.Join(emu.DataDir, "storage-account-key"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(secret)))
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte("storage account key\x00acrtasklogs"))
	key := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	sign := func(start, expiry time.Duration) string {
		t.Helper()
		out, err := emu.TryRunEnv(t, env, python, "-c", `import sys, datetime
from azure.storage.blob import generate_blob_sas
now = datetime.datetime.now(datetime.timezone.utc)
print(generate_blob_sas("acrtasklogs", sys.argv[1], sys.argv[2], account_key=sys.argv[3], permission="r",
    start=now + datetime.timedelta(seconds=int(sys.argv[4])), expiry=now + datetime.timedelta(seconds=int(sys.argv[5]))))`,
			container, blob, key, fmt.Sprint(int(start.Seconds())), fmt.Sprint(int(expiry.Seconds())))
		if err != nil {
			t.Fatalf("generate_blob_sas: %v\n%s", err, out)
		}
		return link[:strings.Index(link, "?")] + "?" + strings.TrimSpace(out)
	}
	if res, body := fetch(t, client, sign(-time.Minute, time.Hour)); res.StatusCode != http.StatusOK || !strings.Contains(body, wantLog) {
		t.Errorf("a link the Python SDK signed: %d\n%s", res.StatusCode, body)
	}
	if res, body := fetch(t, client, sign(-2*time.Hour, -time.Hour)); res.StatusCode != http.StatusForbidden ||
		!regexp.MustCompile(`<AuthenticationErrorDetail>Signature not valid in the specified time frame: Start \[[^]]+ GMT\] - Expiry \[[^]]+ GMT\] - Current \[[^]]+ GMT\]</AuthenticationErrorDetail>`).MatchString(body) {
		t.Errorf("an expired link: %d\n%s", res.StatusCode, body)
	}
}

// TestSourceUploadInBlocks uploads build contexts through listBuildSourceUploadUrl links the
// way both generations of az do, forced into blocks (Put Block, Put Block List) as they upload
// contexts over 64 MiB: az 2.45's own parser and storage SDK, and the BlobClient newer az
// versions use. Each upload is then built by a DockerBuildRequest run (az acr build's).
func TestSourceUploadInBlocks(t *testing.T) {
	python := harness.Tool(t, "PYTHON3", "/usr/bin/python3")
	emu := harness.Start(t)
	env := append(emu.Env(t), "REQUESTS_CA_BUNDLE="+emu.CAFile)
	const pack = `import io, os, tarfile
def context():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in (("Dockerfile", b"FROM scratch\nCOPY noise.bin /noise.bin\n"), ("noise.bin", os.urandom(5000))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()
`
	for i, c := range []struct{ name, script string }{
		{"az 2.45", pack + `import sys
from azure.cli.command_modules.acr._azure_utils import get_blob_info
from azure.multiapi.storage.v2018_11_09.blob import BlockBlobService
account, suffix, container, blob, sas = get_blob_info(sys.argv[1])
svc = BlockBlobService(account_name=account, sas_token=sas, endpoint_suffix=suffix)
svc.MAX_SINGLE_PUT_SIZE = svc.MAX_BLOCK_SIZE = 1024
svc.create_blob_from_bytes(container_name=container, blob_name=blob, blob=context())
print("uploaded")`},
		{"azure-storage-blob", pack + `import sys
from azure.storage.blob import BlobClient
BlobClient.from_blob_url(sys.argv[1], max_single_put_size=1024, max_block_size=1024).upload_blob(context())
print("uploaded")`},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, out := armCall(t, emu, http.MethodPost, registryPath+"/listBuildSourceUploadUrl?api-version=2019-06-01-preview", "")
			if status != http.StatusOK {
				t.Fatalf("listBuildSourceUploadUrl: %d %v", status, out)
			}
			if out, err := emu.TryRunEnv(t, env, python, "-c", c.script, fmt.Sprint(out["uploadUrl"])); err != nil || !strings.Contains(out, "uploaded") {
				t.Fatalf("upload: %v\n%s", err, out)
			}
			// It went in blocks (the emulator's debug log shows each request).
			if n := strings.Count(emu.Logs(), "comp=blocklist"); n != i+1 {
				t.Fatalf("%d block lists committed so far, want %d", n, i+1)
			}
			status, run := armCall(t, emu, http.MethodPost, registryPath+"/scheduleRun?api-version=2019-06-01-preview",
				`{"type":"DockerBuildRequest","imageNames":["blocks/app:v1"],"isPushEnabled":true,"sourceLocation":"`+fmt.Sprint(out["relativePath"])+
					`","dockerFilePath":"Dockerfile","platform":{"os":"linux"}}`)
			if status != http.StatusOK {
				t.Fatalf("scheduleRun: %d %v", status, run)
			}
			runID := fmt.Sprint(run["properties"].(map[string]any)["runId"])
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
				_, run = armCall(t, emu, http.MethodGet, registryPath+"/runs/"+runID+"?api-version=2019-06-01-preview", "")
				st := fmt.Sprint(run["properties"].(map[string]any)["status"])
				if st == "Succeeded" {
					break
				}
				if st != "Queued" && st != "Running" || time.Now().After(deadline) {
					t.Fatalf("the build of the uploaded context: %v", run)
				}
			}
		})
	}
}
