package dockerfile

import (
	"archive/tar"
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

var context1 = fstest.MapFS{
	"app/main.sh":      {Data: []byte("#!/bin/sh\necho hi\n"), Mode: 0o755},
	"app/conf/a.yaml":  {Data: []byte("a: 1\n")},
	"README.md":        {Data: []byte("readme")},
	"static/index.htm": {Data: []byte("<p>")},
}

// files lists a layer's regular files with their contents and modes.
func files(t *testing.T, l v1.Layer) map[string]string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			out[h.Name] = string(b)
			if h.Mode == 0o755 {
				out[h.Name] += " (x)"
			}
		}
	}
}

func TestBuild(t *testing.T) {
	base, _ := random.Image(100, 1)
	base, _ = mutate.Config(base, v1.Config{Env: []string{"PATH=/usr/bin"}})
	baseDigest, _ := base.Digest()
	var pulled []string
	df := `# a comment
ARG VERSION=1.0
FROM registry.example/base:${VERSION}
ENV APP_HOME=/srv/app \
    MODE="prod mode"
LABEL org.opencontainers.image.version=$VERSION maintainer="me"
WORKDIR $APP_HOME
COPY app/ ./
ADD README.md static/* /docs/
USER 1000
EXPOSE 8080 53/udp
ENTRYPOINT ["/srv/app/main.sh"]
CMD --serve
`
	var log strings.Builder
	img, err := Build(context.Background(), Options{Dockerfile: []byte(df), Context: context1, BuildArgs: map[string]string{"VERSION": "2.1"},
		Base: func(_ context.Context, ref string) (v1.Image, error) { pulled = append(pulled, ref); return base, nil }, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pulled, []string{"registry.example/base:2.1"}) {
		t.Fatalf("pulled %v", pulled)
	}
	cfg, _ := img.ConfigFile()
	c := cfg.Config
	if !slices.Equal(c.Env, []string{"APP_HOME=/srv/app", "MODE=prod mode", "PATH=/usr/bin"}) || c.WorkingDir != "/srv/app" || c.User != "1000" ||
		c.Labels["org.opencontainers.image.version"] != "2.1" || c.Labels["maintainer"] != "me" ||
		!slices.Equal(c.Entrypoint, []string{"/srv/app/main.sh"}) || !slices.Equal(c.Cmd, []string{"/bin/sh", "-c", "--serve"}) {
		t.Fatalf("config = %+v", c)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok || len(c.ExposedPorts) != 2 {
		t.Fatalf("ports = %v", c.ExposedPorts)
	}
	layers, _ := img.Layers()
	if len(layers) != 3 || len(cfg.RootFS.DiffIDs) != 3 {
		t.Fatalf("%d layers, %d diff ids", len(layers), len(cfg.RootFS.DiffIDs))
	}
	baseLayers, _ := base.Layers()
	first, _ := layers[0].Digest()
	want, _ := baseLayers[0].Digest()
	if first != want {
		t.Fatal("the base layer changed")
	}
	if got := files(t, layers[1]); len(got) != 2 || got["srv/app/main.sh"] != "#!/bin/sh\necho hi\n (x)" || got["srv/app/conf/a.yaml"] != "a: 1\n" {
		t.Fatalf("COPY app/ ./ = %v", got)
	}
	if got := files(t, layers[2]); len(got) != 2 || got["docs/README.md"] != "readme" || got["docs/index.htm"] != "<p>" {
		t.Fatalf("ADD = %v", got)
	}
	baseCfg, _ := base.ConfigFile()
	var layered []string
	for _, h := range cfg.History[len(baseCfg.History):] {
		if !h.EmptyLayer {
			layered = append(layered, h.CreatedBy)
		}
	}
	if d, _ := img.Digest(); d == baseDigest || len(cfg.History) != len(baseCfg.History)+9 ||
		!slices.Equal(layered, []string{"COPY app/ ./", "ADD README.md static/* /docs/"}) {
		t.Fatalf("history %+v", cfg.History)
	}
	if !strings.Contains(log.String(), "Step 3/11 : ENV APP_HOME=/srv/app  MODE=\"prod mode\"") {
		t.Fatalf("log:\n%s", log.String())
	}
}

func TestBuildScratch(t *testing.T) {
	img, err := Build(context.Background(), Options{Dockerfile: []byte("FROM scratch\nCOPY README.md /\nCMD [\"/x\"]\n"), Context: context1})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigFile()
	layers, _ := img.Layers()
	if cfg.OS != "linux" || cfg.Architecture != "amd64" || len(layers) != 1 || files(t, layers[0])["README.md"] != "readme" {
		t.Fatalf("config %+v, %d layers", cfg, len(layers))
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "EMPTY": "", "ü": "x"}
	for _, c := range []struct{ in, want string }{
		{"$A-${A}", "1-1"},
		{"${EMPTY:-d} ${MISSING:-d} ${A:-d}", "d d 1"},
		{`\$A $ $$A`, "$A $ $1"},
		{"héllo ${A}", "héllo 1"}, // bytes beyond ASCII pass through unchanged
		{"${A", "${A"},
	} {
		x := &expander{left: 1 << 10}
		if got, err := x.expand(c.in, vars); err != nil || got != c.want {
			t.Errorf("expand(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	x := &expander{left: 8}
	if _, err := x.expand("12345678", nil); err != nil {
		t.Fatalf("exactly the budget: %v", err)
	}
	if _, err := x.expand("9", nil); err == nil {
		t.Fatal("past the budget: no error")
	}
}

func TestBuildRefusals(t *testing.T) {
	for _, c := range []struct{ df, want string }{
		{"FROM scratch\nRUN apt-get update\n", "line 2: RUN is not emulated"},
		{"FROM scratch AS a\nFROM scratch\n", "multi-stage builds are not emulated"},
		{"FROM scratch\nCOPY --from=a /x /y\n", "--from (multi-stage) is not emulated"},
		{"FROM scratch\nCOPY missing.txt /\n", "missing.txt: no such file"},
		{"FROM scratch\nCOPY ../etc/passwd /\n", "outside the build context"},
		{"FROM scratch\nADD https://example.com/x /x\n", "ADD of a URL is not emulated"},
		{"FROM scratch\nCOPY app/main.sh README.md /dest\n", "must end with /"},
		{"COPY README.md /\n", "COPY before FROM"},
		{"FROM scratch\nHEALTHCHECK NONE\n", "HEALTHCHECK is not emulated"},
		{"# nothing\n", "no instructions"},
		{"FROM scratch\nENV A=1 \\", "ends inside a continued line"},
		{"FROM registry.example/x\n", "no registry access"},
		{"FROM\n", "FROM names no image"},
		{"FROM scratch\nENV\n", "line 2: ENV: expected KEY=VALUE"},
		{"FROM scratch\nLABEL\n", "line 2: LABEL: expected KEY=VALUE"},
		// Each ARG doubles the value: without a bound, 25 lines make a 2 GiB string.
		{"ARG a=" + strings.Repeat("x", 64) + "\n" + strings.Repeat("ARG a=$a$a\n", 25) + "FROM scratch\n", "line 15: the build's expanded values"},
		{"FROM scratch\nARG a=" + strings.Repeat("y", 1000) + "\n" + strings.Repeat("LABEL l=${a}${a}${a}${a}${a}${a}${a}${a}\n", 200), "larger than 1024 KiB together"},
		{"FROM scratch\n" + strings.Repeat("EXPOSE 80\n", 1001), "more than 1000 instructions"},
		{strings.Repeat("#", 2<<20), "larger than 1024 KiB"},
	} {
		_, err := Build(context.Background(), Options{Dockerfile: []byte(c.df), Context: context1})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.df, err, c.want)
		}
	}
}

// FuzzBuild: no Dockerfile panics the builder or escapes its bounds.
func FuzzBuild(f *testing.F) {
	for _, s := range []string{
		"FROM scratch\nARG V=1\nENV A=$V B=${V:-x}\nLABEL k=\"v\"\nWORKDIR app\nUSER 1000\nEXPOSE 80 443/udp\nCMD [\"/x\"]\n",
		"ARG a=xx\nARG a=$a$a\nFROM scratch\n",
		"FROM scratch\nENV A \\\n  B\n",
		"FROM scratch\nCOPY README.md /\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, df string) {
		img, err := Build(context.Background(), Options{Dockerfile: []byte(df), Context: context1})
		if err != nil {
			return
		}
		raw, err := img.RawConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) > maxExpandedBytes+len(df)+64<<10 {
			t.Fatalf("config of %d bytes from a %d-byte Dockerfile", len(raw), len(df))
		}
	})
}
