package tasks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/fakes/acrclient"
	"github.com/acr-emulator/acr-emulator/fakes/dockerfile"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// action is one step of a run, from task YAML or a DockerBuildRequest.
type action struct {
	id    string
	cmd   string // the image a cmd step runs
	build *buildSpec
	push  []string
}

type buildSpec struct {
	tags       []string
	dockerfile string
	context    string
	args       map[string]string
}

// actions turns YAML steps into actions.
func actions(steps []step) ([]action, error) {
	var out []action
	for i, st := range steps {
		a := action{id: st.ID}
		if a.id == "" {
			a.id = "acb_step_" + strconv.Itoa(i)
		}
		switch {
		case strings.TrimSpace(st.Cmd) != "":
			a.cmd = st.Cmd
		case strings.TrimSpace(st.Build) != "":
			b, err := parseBuild(st.Build)
			if err != nil {
				return nil, fmt.Errorf("step %s: %v", a.id, err)
			}
			a.build = b
		case st.Push != nil:
			switch p := st.Push.(type) {
			case string:
				a.push = []string{p}
			case []any:
				for _, v := range p {
					a.push = append(a.push, fmt.Sprint(v))
				}
			}
			if len(a.push) == 0 {
				return nil, fmt.Errorf("step %s: push names no image", a.id)
			}
		default:
			return nil, fmt.Errorf("step %s: only cmd, build and push steps are emulated", a.id)
		}
		out = append(out, a)
	}
	return out, nil
}

// parseBuild reads a build step's docker build arguments.
func parseBuild(s string) (*buildSpec, error) {
	b := &buildSpec{args: map[string]string{}, dockerfile: "Dockerfile"}
	f := strings.Fields(s)
	for i := 0; i < len(f); i++ {
		arg := f[i]
		val := func() (string, error) {
			if k, v, ok := strings.Cut(arg, "="); ok && strings.HasPrefix(k, "-") {
				return v, nil
			}
			if i+1 >= len(f) {
				return "", fmt.Errorf("%s needs a value", arg)
			}
			i++
			return f[i], nil
		}
		flag, _, _ := strings.Cut(arg, "=")
		switch flag {
		case "-t", "--tag", "--image":
			v, err := val()
			if err != nil {
				return nil, err
			}
			b.tags = append(b.tags, v)
		case "-f", "--file":
			v, err := val()
			if err != nil {
				return nil, err
			}
			b.dockerfile = v
		case "--build-arg":
			v, err := val()
			if err != nil {
				return nil, err
			}
			k, val, _ := strings.Cut(v, "=")
			b.args[k] = val
		case "--no-cache", "--pull":
		default:
			if strings.HasPrefix(arg, "-") {
				return nil, fmt.Errorf("the build option %s is not emulated", arg)
			}
			if b.context != "" {
				return nil, fmt.Errorf("two build contexts: %s and %s", b.context, arg)
			}
			b.context = arg
		}
	}
	if b.context == "" {
		return nil, errors.New("the build step names no context (usually .)")
	}
	return b, nil
}

// runSpec is what a run acts with.
type runSpec struct {
	id, login string
	registry  string // ARM id
	actions   []action
	ids       platform.Identities
	creds     any
	// sourceLocation names the uploaded context (listBuildSourceUploadUrl's relativePath);
	// execute reads it into source.
	sourceLocation string
	source         fs.FS // nil when there is none
	// taskYAML, or taskFile in the source (FileTaskRunRequest), is the run's task YAML,
	// rendered with template and parsed into actions when the run starts.
	taskYAML []byte
	taskFile string
	template taskTemplate
}

// outcome of a run: its error and the images it pushed.
type outcome struct {
	err     error
	outputs []map[string]string
	// bases are the base images the builds pulled, as a Docker task's step records them
	// (baseImageDependencies): each build's last FROM is its Runtime image, the others BuildTime.
	bases []map[string]string
}

// prepare loads what a run needs before its first step, as the agent does: its uploaded source,
// and its task YAML rendered and parsed into actions.
func (s *Service) prepare(spec runSpec) (runSpec, error) {
	var err error
	if spec.sourceLocation != "" {
		if spec.source, err = s.sourceFS(spec.registry, spec.sourceLocation); err != nil {
			return spec, err
		}
	}
	raw := spec.taskYAML
	if spec.taskFile != "" {
		if raw, err = fs.ReadFile(spec.source, path.Clean(strings.TrimPrefix(spec.taskFile, "./"))); err != nil {
			return spec, fmt.Errorf("failed to read the task file %s from the source: %v", spec.taskFile, err)
		}
	}
	if raw != nil {
		spec.actions, err = parseTaskYAML(raw, spec.template)
	}
	return spec, err
}

// execute runs the actions in order, writing a log like the agent's.
func (s *Service) execute(ctx context.Context, spec runSpec, log io.Writer) outcome {
	start := time.Now()
	var out outcome
	logf := func(format string, a ...any) {
		fmt.Fprintf(log, "%s %s\n", time.Now().UTC().Format("2006/01/02 15:04:05"), fmt.Sprintf(format, a...))
	}
	finish := func(err error) outcome {
		if err != nil && ctx.Err() != nil {
			fmt.Fprintf(log, "Run ID: %s was canceled after %ds\n", spec.id, int(time.Since(start).Seconds()))
		} else if err != nil {
			fmt.Fprintf(log, "Run ID: %s failed after %ds. Error: failed during run, err: exit status 1\nRun failed\n", spec.id, int(time.Since(start).Seconds()))
		} else {
			fmt.Fprintf(log, "Run ID: %s was successful after %ds\n", spec.id, int(time.Since(start).Seconds()))
		}
		out.err = err
		return out
	}
	spec, err := s.prepare(spec)
	if err != nil {
		fmt.Fprintf(log, "%v\n", err)
		return finish(err)
	}
	logf("Alias support enabled for version >= 1.1.0, please see https://aka.ms/acr/tasks/task-aliases for more information.")
	replacer := strings.NewReplacer("{{.Run.Registry}}", spec.login, "$Registry", spec.login, "{{.Run.ID}}", spec.id, "$ID", spec.id)
	qualify := func(ref string) string {
		ref = replacer.Replace(ref)
		if first, _, ok := strings.Cut(ref, "/"); !ok || !strings.ContainsAny(first, ".:") && first != "localhost" {
			ref = spec.login + "/" + ref // az acr build -t app:v1 means the run's registry
		}
		return ref
	}
	built := map[string]v1.Image{}
	for _, a := range spec.actions {
		logf("Executing step ID: %s. Timeout(sec): 600, Working directory: '', Network: 'acb_default_network'", a.id)
		switch {
		case a.cmd != "":
			fields := strings.Fields(replacer.Replace(a.cmd))
			image := fields[0]
			auth, tr, err := s.credential(ctx, registryOf(image), spec, logf)
			if err != nil {
				fmt.Fprintf(log, "%v\n", err)
				return finish(fmt.Errorf("step %s: %v", a.id, err))
			}
			logf("Launching container with name: %s", a.id)
			digest, err := (&acrclient.Client{Transport: tr}).PullWith(ctx, image, auth)
			if err != nil {
				fmt.Fprintf(log, "Unable to find image '%s' locally\nError response from daemon: %s\n", image, acrclient.Message(err))
				return finish(fmt.Errorf("step %s: pulling %s: %s", a.id, image, acrclient.Message(err)))
			}
			fmt.Fprintf(log, "%s: Pulling from %s\nDigest: %s\nStatus: Downloaded newer image for %s\n", image, image, digest, image)
			logf("Successfully executed container: %s (the emulator pulls the image and runs nothing)", a.id)
		case a.build != nil:
			img, bases, err := s.build(ctx, a.build, spec, log, logf)
			out.bases = append(out.bases, bases...)
			if err != nil {
				fmt.Fprintf(log, "%v\n", err)
				return finish(fmt.Errorf("step %s: %v", a.id, err))
			}
			d, _ := img.Digest()
			fmt.Fprintf(log, "Successfully built %s\n", d.Hex[:12])
			for _, t := range a.build.tags {
				built[qualify(t)] = img
				fmt.Fprintf(log, "Successfully tagged %s\n", qualify(t))
			}
		default:
			for _, p := range a.push {
				ref := qualify(p)
				img, ok := built[ref]
				if !ok {
					return finish(fmt.Errorf("step %s: %s was not built by this run", a.id, ref))
				}
				o, err := s.pushImage(ctx, ref, img, spec, logf)
				if err != nil {
					fmt.Fprintf(log, "%v\n", err)
					return finish(fmt.Errorf("step %s: pushing %s: %v", a.id, ref, err))
				}
				out.outputs = append(out.outputs, o)
			}
		}
		logf("Step ID: %s marked as successful (elapsed time in seconds: %.6f)", a.id, time.Since(start).Seconds())
	}
	if len(out.outputs) > 0 {
		fmt.Fprintln(log, "\nThe following dependencies were found:")
		for _, o := range out.outputs {
			fmt.Fprintf(log, "- image:\n    registry: %s\n    repository: %s\n    tag: %s\n    digest: %s\n", o["registry"], o["repository"], o["tag"], o["digest"])
		}
		fmt.Fprintln(log)
	}
	return finish(nil)
}

func registryOf(ref string) string {
	first, _, _ := strings.Cut(ref, "/")
	return first
}

// build runs a build step: the Dockerfile from the uploaded context, base images pulled with
// the run's credentials.
func (s *Service) build(ctx context.Context, b *buildSpec, spec runSpec, log io.Writer, logf func(string, ...any)) (v1.Image, []map[string]string, error) {
	if spec.source == nil {
		return nil, nil, errors.New("this run has no source context: build steps need an uploaded one (az acr build <dir>, az acr run -f task.yaml <dir>)")
	}
	dir := strings.Trim(strings.TrimPrefix(b.context, "./"), "/")
	ctxFS := spec.source
	if dir != "" && dir != "." {
		sub, err := fs.Sub(spec.source, dir)
		if err != nil {
			return nil, nil, err
		}
		ctxFS = sub
	}
	df, err := fs.ReadFile(ctxFS, strings.TrimPrefix(b.dockerfile, "./"))
	if err != nil {
		if df, err = fs.ReadFile(spec.source, strings.TrimPrefix(b.dockerfile, "./")); err != nil {
			return nil, nil, fmt.Errorf("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat %s: no such file or directory", b.dockerfile)
		}
	}
	logf("Scanning for dependencies...")
	logf("Successfully scanned dependencies")
	logf("Launching container with name: build")
	fmt.Fprintf(log, "Sending build context to Docker daemon\n")
	var bases []map[string]string
	img, err := dockerfile.Build(ctx, dockerfile.Options{Dockerfile: df, Context: ctxFS, BuildArgs: b.args, Log: log,
		Base: func(ctx context.Context, ref string) (v1.Image, error) {
			r, err := name.ParseReference(ref)
			if err != nil {
				return nil, err
			}
			auth, tr, err := s.credential(ctx, r.Context().RegistryStr(), spec, logf)
			if err != nil {
				return nil, err
			}
			img, err := remote.Image(r, remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(tr),
				remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
			if err != nil {
				return nil, errors.New(acrclient.Message(err))
			}
			bases = append(bases, baseDependency(r, img))
			return img, nil
		}})
	if len(bases) > 0 {
		bases[len(bases)-1]["type"] = "Runtime"
	}
	return img, bases, err
}

// baseDependency is a base image as ACR names it in baseImageDependencies (Docker Hub as
// registry.hub.docker.com).
func baseDependency(r name.Reference, img v1.Image) map[string]string {
	reg := r.Context().RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "registry.hub.docker.com"
	}
	dep := map[string]string{"type": "BuildTime", "registry": reg, "repository": r.Context().RepositoryStr()}
	if t, ok := r.(name.Tag); ok {
		dep["tag"] = t.TagStr()
	}
	if d, err := img.Digest(); err == nil {
		dep["digest"] = d.String()
	}
	return dep
}

func (s *Service) pushImage(ctx context.Context, ref string, img v1.Image, spec runSpec, logf func(string, ...any)) (map[string]string, error) {
	r, err := name.NewTag(ref)
	if err != nil {
		return nil, err
	}
	auth, tr, err := s.credential(ctx, r.RegistryStr(), spec, logf)
	if err != nil {
		return nil, err
	}
	logf("Pushing image: %s, attempt 1", ref)
	if err := remote.Write(r, img, remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(tr)); err != nil {
		return nil, errors.New(acrclient.Message(err))
	}
	d, _ := img.Digest()
	logf("Successfully pushed image: %s", ref)
	return map[string]string{"registry": r.RegistryStr(), "repository": r.RepositoryStr(), "tag": r.TagStr(), "digest": d.String()}, nil
}

// credential picks what the run uses for a registry: a customRegistries entry with an identity
// ("[system]" or a user-assigned identity's client id); for the run's own registry, unless
// the source registry's login mode is None, the registry's own run credential; else nothing.
// The transport comes from ACR Tasks' origin, marked as a system identity where the 2025 rule
// looks at it.
func (s *Service) credential(ctx context.Context, server string, spec runSpec, logf func(string, ...any)) (authn.Authenticator, http.RoundTripper, error) {
	c, _ := spec.creds.(map[string]any)
	regs, _ := c["customRegistries"].(map[string]any)
	var ident string
	for k, v := range regs {
		if strings.EqualFold(k, server) {
			entry, _ := v.(map[string]any)
			ident, _ = entry["identity"].(string)
		}
	}
	if ident == "" {
		src, _ := c["sourceRegistry"].(map[string]any)
		if mode, _ := src["loginMode"].(string); strings.EqualFold(server, spec.login) && !strings.EqualFold(mode, "None") && s.runAuth != nil {
			logf("Logging in to registry: %s", server)
			return s.runAuth, s.p.Transport(platform.From{Service: network.ServiceTasks, SystemIdentity: true}), nil
		}
		return authn.Anonymous, s.p.Transport(platform.From{Service: network.ServiceTasks}), nil
	}
	logf("Logging in to registry: %s (%s)", server, ident)
	pl := platform.Puller{Platform: s.p, Origin: network.ServiceTasks, Identities: spec.ids, Noun: "task"}
	auth, tr, err := pl.Login(ctx, platform.Pull{Identity: ident}, server)
	var rerr *acrclient.Error
	if errors.As(err, &rerr) {
		return nil, nil, fmt.Errorf("failed to login, ran out of retries: failed to set docker credentials: Error response from daemon: Get \"https://%s/v2/\": %s",
			server, acrclient.Message(err))
	}
	return auth, tr, err
}
