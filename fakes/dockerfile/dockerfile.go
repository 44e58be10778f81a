// Package dockerfile builds an image from a Dockerfile and a build context without running
// anything, the subset an emulated ACR Tasks agent can honour: FROM (one stage, an image or
// scratch), COPY and ADD of context files, ENV, LABEL, WORKDIR, USER, CMD, ENTRYPOINT, EXPOSE
// and ARG. RUN, multi-stage builds, ADD of URLs and the other instructions are refused with
// an error that names them.
package dockerfile

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Options of a build.
type Options struct {
	Dockerfile []byte
	Context    fs.FS // the build context; nil for none (COPY then fails)
	BuildArgs  map[string]string
	// Base fetches the image a FROM names (linux/amd64 from an index).
	Base func(ctx context.Context, ref string) (v1.Image, error)
	// Log receives docker-build-like progress lines.
	Log io.Writer
}

// instruction is one Dockerfile line, continuations joined.
type instruction struct {
	cmd  string // upper case
	args string
	line int
}

func parse(src []byte) ([]instruction, error) {
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(string(src), "\n") {
		line := strings.TrimRight(raw, "\r")
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(trimmed, "#") {
			continue // a comment inside a continued instruction
		}
		cur.WriteString(trimmed)
		full := strings.TrimSpace(cur.String())
		cur.Reset()
		cmd, args, _ := strings.Cut(full, " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start})
	}
	if cur.Len() > 0 {
		return nil, errors.New("the Dockerfile ends inside a continued line")
	}
	if len(out) == 0 {
		return nil, errors.New("the Dockerfile has no instructions")
	}
	return out, nil
}

// Bounds of a build: the Dockerfile and every value it expands come from the user, and
// `ARG a=$a$a` doubles a value each line (25 lines drove a process to 4.6 GB and stored a
// 512 MiB image config). The limits are the emulator's; Docker has none so tight, but no real
// Dockerfile comes near them.
const (
	maxDockerfileBytes = 1 << 20
	maxInstructions    = 1000
	maxExpandedBytes   = 1 << 20 // every value the build expands, together
)

var errExpandedTooLarge = fmt.Errorf("the build's expanded values (ARG, ENV, LABEL...) are larger than %d KiB together", maxExpandedBytes>>10)

// expander substitutes $VAR and ${VAR} (with ${VAR:-default}), within one budget for the build.
type expander struct{ left int }

func (x *expander) expand(s string, vars map[string]string) (string, error) {
	var b strings.Builder
	write := func(v string) bool {
		if len(v) > x.left-b.Len() {
			return false
		}
		b.WriteString(v)
		return true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && s[i+1] == '$' {
			c, i = '$', i+1
		} else if c == '$' && i+1 < len(s) && s[i+1] == '{' {
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				if !write(s[i:]) {
					return "", errExpandedTooLarge
				}
				break
			}
			name, def, hasDef := strings.Cut(s[i+2:i+end], ":-")
			v, ok := vars[name]
			if !ok || (v == "" && hasDef) {
				v = def
			}
			if !write(v) {
				return "", errExpandedTooLarge
			}
			i += end
			continue
		} else if c == '$' {
			j := i + 1
			for j < len(s) && (s[j] == '_' || 'a' <= s[j] && s[j] <= 'z' || 'A' <= s[j] && s[j] <= 'Z' || '0' <= s[j] && s[j] <= '9') {
				j++
			}
			if j > i+1 {
				if !write(vars[s[i+1:j]]) {
					return "", errExpandedTooLarge
				}
				i = j - 1
				continue
			}
		}
		if b.Len() >= x.left {
			return "", errExpandedTooLarge
		}
		b.WriteByte(c)
	}
	x.left -= b.Len()
	return b.String(), nil
}

// keyValues reads KEY=VALUE pairs (values may be double-quoted), or the legacy "KEY VALUE".
func keyValues(args string) ([][2]string, error) {
	fields := strings.Fields(args)
	if len(fields) == 0 {
		return nil, errors.New("expected KEY=VALUE")
	}
	if !strings.Contains(fields[0], "=") {
		k, v, _ := strings.Cut(args, " ")
		return [][2]string{{k, strings.TrimSpace(v)}}, nil
	}
	var out [][2]string
	for rest := strings.TrimSpace(args); rest != ""; rest = strings.TrimSpace(rest) {
		k, after, ok := strings.Cut(rest, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("expected KEY=VALUE in %q", args)
		}
		var v string
		if strings.HasPrefix(after, `"`) {
			end := strings.Index(after[1:], `"`)
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote in %q", args)
			}
			v, rest = after[1:end+1], after[end+2:]
		} else {
			v, rest, _ = strings.Cut(after, " ")
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// command reads the exec form (a JSON array) or the shell form of CMD and ENTRYPOINT.
func command(args string) []string {
	var exec []string
	if strings.HasPrefix(args, "[") && json.Unmarshal([]byte(args), &exec) == nil {
		return exec
	}
	return []string{"/bin/sh", "-c", args}
}

// Build builds the image.
func Build(ctx context.Context, o Options) (v1.Image, error) {
	if len(o.Dockerfile) > maxDockerfileBytes {
		return nil, fmt.Errorf("the Dockerfile is larger than %d KiB", maxDockerfileBytes>>10)
	}
	steps, err := parse(o.Dockerfile)
	if err != nil {
		return nil, err
	}
	if len(steps) > maxInstructions {
		return nil, fmt.Errorf("the Dockerfile has more than %d instructions", maxInstructions)
	}
	x := &expander{left: maxExpandedBytes}
	logf := func(format string, a ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", a...)
		}
	}
	args := map[string]string{}
	env := map[string]string{}
	vars := func() map[string]string {
		m := map[string]string{}
		for k, v := range args {
			m[k] = v
		}
		for k, v := range env {
			m[k] = v
		}
		return m
	}
	var img v1.Image
	var cfg *v1.ConfigFile
	var history []v1.History
	for n, st := range steps {
		logf("Step %d/%d : %s %s", n+1, len(steps), st.cmd, st.args)
		ex := func(s string) (string, error) {
			v, err := x.expand(s, vars())
			if err != nil {
				return "", fmt.Errorf("line %d: %w", st.line, err)
			}
			return v, nil
		}
		if img == nil && st.cmd != "FROM" && st.cmd != "ARG" {
			return nil, fmt.Errorf("line %d: %s before FROM", st.line, st.cmd)
		}
		empty := true
		switch st.cmd {
		case "ARG":
			name, def, _ := strings.Cut(st.args, "=")
			if v, ok := o.BuildArgs[name]; ok {
				def = v
			}
			if args[name], err = ex(def); err != nil {
				return nil, err
			}
		case "FROM":
			if img != nil {
				return nil, fmt.Errorf("line %d: multi-stage builds are not emulated", st.line)
			}
			v, err := ex(st.args)
			if err != nil {
				return nil, err
			}
			fields := strings.Fields(v)
			if len(fields) == 0 {
				return nil, fmt.Errorf("line %d: FROM names no image", st.line)
			}
			ref := fields[0]
			if img, err = from(ctx, o, ref); err != nil {
				return nil, fmt.Errorf("line %d: FROM %s: %w", st.line, ref, err)
			}
			if cfg, err = img.ConfigFile(); err != nil {
				return nil, err
			}
			cfg = cfg.DeepCopy()
			history = cfg.History
			for _, kv := range cfg.Config.Env {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		case "ENV":
			kvs, err := keyValues(st.args)
			if err != nil {
				return nil, fmt.Errorf("line %d: ENV: %w", st.line, err)
			}
			for _, kv := range kvs {
				if env[kv[0]], err = ex(kv[1]); err != nil {
					return nil, err
				}
			}
		case "LABEL":
			kvs, err := keyValues(st.args)
			if err != nil {
				return nil, fmt.Errorf("line %d: LABEL: %w", st.line, err)
			}
			if cfg.Config.Labels == nil {
				cfg.Config.Labels = map[string]string{}
			}
			for _, kv := range kvs {
				v, err := ex(kv[1])
				if err != nil {
					return nil, err
				}
				cfg.Config.Labels[strings.Trim(kv[0], `"`)] = v
			}
		case "WORKDIR":
			dir, err := ex(st.args)
			if err != nil {
				return nil, err
			}
			if !path.IsAbs(dir) {
				dir = path.Join("/", cfg.Config.WorkingDir, dir)
			}
			cfg.Config.WorkingDir = dir
		case "USER":
			if cfg.Config.User, err = ex(st.args); err != nil {
				return nil, err
			}
		case "CMD":
			cfg.Config.Cmd = command(st.args)
		case "ENTRYPOINT":
			cfg.Config.Entrypoint = command(st.args)
		case "EXPOSE":
			if cfg.Config.ExposedPorts == nil {
				cfg.Config.ExposedPorts = map[string]struct{}{}
			}
			ports, err := ex(st.args)
			if err != nil {
				return nil, err
			}
			for _, p := range strings.Fields(ports) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				cfg.Config.ExposedPorts[p] = struct{}{}
			}
		case "COPY", "ADD":
			spec, err := ex(st.args)
			if err != nil {
				return nil, err
			}
			layer, err := copyLayer(o.Context, st.cmd, spec, cfg.Config.WorkingDir)
			if err != nil {
				return nil, fmt.Errorf("line %d: %s: %w", st.line, st.cmd, err)
			}
			if img, err = mutate.AppendLayers(img, layer); err != nil {
				return nil, err
			}
			empty = false
		case "RUN":
			return nil, fmt.Errorf("line %d: RUN is not emulated: the emulator builds images without running anything (COPY files built elsewhere instead)", st.line)
		default:
			return nil, fmt.Errorf("line %d: %s is not emulated", st.line, st.cmd)
		}
		if img != nil && st.cmd != "FROM" {
			history = append(history, v1.History{Created: v1.Time{Time: time.Now().UTC()}, CreatedBy: st.cmd + " " + st.args, EmptyLayer: empty})
		}
	}
	if img == nil {
		return nil, errors.New("the Dockerfile has no FROM")
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	cfg.Config.Env = nil
	for _, k := range keys {
		cfg.Config.Env = append(cfg.Config.Env, k+"="+env[k])
	}
	// Layers added by COPY are in img's config; carry its rootfs over to the edited config.
	cur, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg.RootFS = cur.RootFS
	cfg.History = history
	cfg.Created = v1.Time{Time: time.Now().UTC()}
	return mutate.ConfigFile(img, cfg)
}

func from(ctx context.Context, o Options, ref string) (v1.Image, error) {
	if ref == "scratch" {
		return mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers"}})
	}
	if o.Base == nil {
		return nil, errors.New("no registry access")
	}
	return o.Base(ctx, ref)
}

// copyLayer makes the layer a COPY or ADD of context files adds.
func copyLayer(ctxFS fs.FS, cmd, args, workdir string) (v1.Layer, error) {
	if ctxFS == nil {
		return nil, errors.New("there is no build context")
	}
	fields := strings.Fields(args)
	var srcs []string
	for _, f := range fields {
		if strings.HasPrefix(f, "--") {
			if strings.HasPrefix(f, "--from") {
				return nil, errors.New("--from (multi-stage) is not emulated")
			}
			continue // --chown, --chmod: ownership is not modelled
		}
		srcs = append(srcs, f)
	}
	if len(srcs) < 2 {
		return nil, fmt.Errorf("%s needs a source and a destination", cmd)
	}
	dest := srcs[len(srcs)-1]
	srcs = srcs[:len(srcs)-1]
	if !path.IsAbs(dest) {
		dir := strings.HasSuffix(dest, "/") || dest == "."
		dest = path.Join("/", workdir, dest)
		if dir && !strings.HasSuffix(dest, "/") {
			dest += "/"
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	addDirs := func(p string) error {
		var parents []string
		for d := path.Dir(p); d != "/" && d != "." && !dirs[d]; d = path.Dir(d) {
			parents = append(parents, d)
		}
		for i := len(parents) - 1; i >= 0; i-- {
			dirs[parents[i]] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(parents[i], "/") + "/", Mode: 0o755}); err != nil {
				return err
			}
		}
		return nil
	}
	addFile := func(src, target string) error {
		data, err := fs.ReadFile(ctxFS, src)
		if err != nil {
			return err
		}
		mode := int64(0o644)
		if info, err := fs.Stat(ctxFS, src); err == nil && info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		if err := addDirs(target); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(target, "/"), Mode: mode, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	}
	var matched []string
	for _, s := range srcs {
		if strings.Contains(s, "://") {
			return nil, fmt.Errorf("%s of a URL is not emulated", cmd)
		}
		clean := path.Clean(strings.TrimPrefix(s, "/"))
		if clean == ".." || strings.HasPrefix(clean, "../") {
			return nil, fmt.Errorf("%s is outside the build context", s)
		}
		m, err := fs.Glob(ctxFS, clean)
		if err != nil || len(m) == 0 {
			return nil, fmt.Errorf("%s: no such file or directory in the build context", s)
		}
		matched = append(matched, m...)
	}
	multi := len(matched) > 1
	if multi && !strings.HasSuffix(dest, "/") {
		return nil, fmt.Errorf("when copying several sources, the destination %s must end with /", dest)
	}
	for _, src := range matched {
		info, err := fs.Stat(ctxFS, src)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			target := dest
			if strings.HasSuffix(dest, "/") {
				target = path.Join(dest, path.Base(src))
			}
			if err := addFile(src, target); err != nil {
				return nil, err
			}
			continue
		}
		// A directory's contents go into the destination.
		err = fs.WalkDir(ctxFS, src, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel := strings.TrimPrefix(strings.TrimPrefix(p, src), "/")
			if src == "." {
				rel = p
			}
			return addFile(p, path.Join(dest, rel))
		})
		if err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}
