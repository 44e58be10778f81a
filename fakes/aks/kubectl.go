package aks

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/fakes/acrclient"
	"github.com/acr-emulator/acr-emulator/fakes/armio"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
	"github.com/google/go-containerregistry/pkg/name"
)

// pod is a pod a run command started: its image and what pulling it did.
type pod struct {
	name, image string
	err         error
	node        string
	at          time.Time
}

// maxPods bounds the pods of one cluster.
const maxPods = 500

// runCommand runs a kubectl command line on the cluster (az aks command invoke) and answers
// 202 with the Location of its result, which is ready at once.
// https://learn.microsoft.com/azure/aks/access-private-cluster (az aks command invoke)
func (s *Service) runCommand(w http.ResponseWriter, r *http.Request, cluster armid.ID, k *platform.Kept) error {
	var b struct {
		Command string `json:"command"`
		Context string `json:"context"`
	}
	if err := armio.Read(r, &b); err != nil {
		return platform.BadRequest("InvalidRequestContent", "%s", err)
	}
	if strings.TrimSpace(b.Command) == "" {
		return platform.BadRequest("InvalidParameter", "command is required.")
	}
	started := time.Now().UTC()
	logs, exit := s.kubectl(r, cluster.String(), k.Body.(*clusterBody), b.Command)
	cid := newID()
	resID := cluster.String() + "/commandResults/" + cid
	res := map[string]any{"id": resID, "properties": map[string]any{"provisioningState": "Succeeded", "exitCode": exit,
		"startedAt": started.Format(time.RFC3339), "finishedAt": time.Now().UTC().Format(time.RFC3339), "logs": logs}}
	s.mu.Lock()
	s.runs[strings.ToLower(resID)] = res
	s.order = append(s.order, strings.ToLower(resID))
	if len(s.order) > maxResults {
		delete(s.runs, s.order[0])
		s.order = s.order[1:]
	}
	s.mu.Unlock()
	w.Header().Set("Location", "https://"+r.Host+resID+"?api-version="+r.URL.Query().Get("api-version"))
	w.Header().Set("Retry-After", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// kubectl runs each command of a line (joined by ; or &&) and returns the output and the
// exit code of the first that failed.
func (s *Service) kubectl(r *http.Request, clusterID string, b *clusterBody, line string) (string, int) {
	var out strings.Builder
	for _, cmd := range splitCommands(line) {
		text, exit := s.one(r, clusterID, b, strings.Fields(cmd))
		out.WriteString(text)
		if exit != 0 {
			return out.String(), exit
		}
	}
	return out.String(), 0
}

func splitCommands(line string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(strings.ReplaceAll(line, "&&", ";"), func(r rune) bool { return r == ';' || r == '\n' }) {
		if strings.TrimSpace(part) != "" {
			out = append(out, part)
		}
	}
	return out
}

func (s *Service) one(r *http.Request, clusterID string, b *clusterBody, args []string) (string, int) {
	unsupported := fmt.Sprintf("the emulator runs kubectl run NAME --image=IMAGE, kubectl get pods [NAME], kubectl describe pod NAME and kubectl delete pod NAME only; got: %s\n",
		strings.Join(args, " "))
	if len(args) < 2 || args[0] != "kubectl" {
		return unsupported, 1
	}
	verb, rest := args[1], args[2:]
	switch {
	case verb == "run" && len(rest) > 0:
		return s.run(r, clusterID, b, rest[0], flag(rest[1:], "image"))
	case verb == "get" && len(rest) > 0 && isPods(rest[0]):
		return s.get(clusterID, rest[1:])
	case verb == "describe" && len(rest) > 1 && isPods(rest[0]):
		return s.describe(clusterID, rest[1])
	case verb == "delete" && len(rest) > 1 && isPods(rest[0]):
		s.mu.Lock()
		_, ok := s.pods[strings.ToLower(clusterID)][rest[1]]
		delete(s.pods[strings.ToLower(clusterID)], rest[1])
		s.mu.Unlock()
		if !ok {
			return fmt.Sprintf("Error from server (NotFound): pods %q not found\n", rest[1]), 1
		}
		return fmt.Sprintf("pod %q deleted\n", rest[1]), 0
	}
	return unsupported, 1
}

func isPods(s string) bool { return s == "pod" || s == "pods" || s == "po" }

// flag finds --name=value or --name value.
func flag(args []string, name string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
		if a == "--"+name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// run starts a pod: the node's kubelet pulls its image with the kubelet identity, from the
// cluster's origin (its VNet when its node pool has a subnet).
func (s *Service) run(r *http.Request, clusterID string, b *clusterBody, podName, image string) (string, int) {
	if image == "" {
		return "error: required flag(s) \"image\" not set\n", 1
	}
	key := strings.ToLower(clusterID)
	s.mu.Lock()
	_, exists := s.pods[key][podName]
	full := len(s.pods[key]) >= maxPods
	s.mu.Unlock()
	switch {
	case exists:
		return fmt.Sprintf("Error from server (AlreadyExists): pods %q already exists\n", podName), 1
	case full:
		return fmt.Sprintf("Error from server (Forbidden): pods %q is forbidden: exceeded quota: the emulator keeps %d pods per cluster\n", podName, maxPods), 1
	}
	pl := platform.Puller{Platform: s.p, Origin: network.ServiceAKS, Identities: b.kubelet, Noun: "kubelet"}
	res := pl.Pull(r.Context(), platform.Pull{Image: image, Identity: b.kubeletRef, VNet: b.vnet()})
	pool := "nodepool1"
	if len(b.Properties.AgentPoolProfiles) > 0 {
		pool = b.Properties.AgentPoolProfiles[0].Name
	}
	p := &pod{name: podName, image: image, err: res.Err, node: "aks-" + pool + "-12345678-vmss000000", at: time.Now()}
	s.mu.Lock()
	if s.pods[key] == nil {
		s.pods[key] = map[string]*pod{}
	}
	s.pods[key][podName] = p
	s.mu.Unlock()
	return fmt.Sprintf("pod/%s created\n", podName), 0
}

func (s *Service) get(clusterID string, names []string) (string, int) {
	s.mu.Lock()
	var pods []*pod
	for _, p := range s.pods[strings.ToLower(clusterID)] {
		pods = append(pods, p)
	}
	s.mu.Unlock()
	sort.Slice(pods, func(i, j int) bool { return pods[i].name < pods[j].name })
	if len(names) > 0 && !strings.HasPrefix(names[0], "-") {
		var one []*pod
		for _, p := range pods {
			if p.name == names[0] {
				one = append(one, p)
			}
		}
		if len(one) == 0 {
			return fmt.Sprintf("Error from server (NotFound): pods %q not found\n", names[0]), 1
		}
		pods = one
	}
	if len(pods) == 0 {
		return "No resources found in default namespace.\n", 0
	}
	var out strings.Builder
	tw := tabwriter.NewWriter(&out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREADY\tSTATUS\tRESTARTS\tAGE")
	for _, p := range pods {
		ready, status := "1/1", "Running"
		if p.err != nil {
			ready, status = "0/1", "ErrImagePull"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t0\t%s\n", p.name, ready, status, age(p.at))
	}
	_ = tw.Flush()
	return out.String(), 0
}

func age(t time.Time) string {
	return fmt.Sprintf("%ds", int(time.Since(t).Seconds()))
}

func (s *Service) describe(clusterID, podName string) (string, int) {
	s.mu.Lock()
	p := s.pods[strings.ToLower(clusterID)][podName]
	s.mu.Unlock()
	if p == nil {
		return fmt.Sprintf("Error from server (NotFound): pods %q not found\n", podName), 1
	}
	status := "Running"
	events := [][3]string{{"Normal", "Scheduled", "default-scheduler\tSuccessfully assigned default/" + p.name + " to " + p.node},
		{"Normal", "Pulling", "kubelet\tPulling image \"" + p.image + "\""}}
	if p.err != nil {
		status = "Pending"
		events = append(events, [3]string{"Warning", "Failed", "kubelet\tFailed to pull image \"" + p.image + "\": " + pullFailure(p.image, p.err)},
			[3]string{"Warning", "Failed", "kubelet\tError: ErrImagePull"})
	} else {
		events = append(events, [3]string{"Normal", "Pulled", "kubelet\tSuccessfully pulled image \"" + p.image + "\""},
			[3]string{"Normal", "Started", "kubelet\tStarted container " + p.name})
	}
	var out strings.Builder
	fmt.Fprintf(&out, "Name:         %s\nNamespace:    default\nNode:         %s\nStatus:       %s\nContainers:\n  %s:\n    Image:          %s\nEvents:\n",
		p.name, p.node, status, p.name, p.image)
	tw := tabwriter.NewWriter(&out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  Type\tReason\tAge\tFrom\tMessage")
	fmt.Fprintln(tw, "  ----\t------\t----\t----\t-------")
	for _, e := range events {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", e[0], e[1], age(p.at), e[2])
	}
	_ = tw.Flush()
	return out.String(), 0
}

// pullFailure is a failed pull as containerd reports it to kubelet: the registry's status on
// the request that failed (containerd does not print the registry's message; the audit at
// /_emulator/audit names the origin and IP). The exact wording is UNCONFIRMED.
func pullFailure(image string, err error) string {
	ref, perr := name.ParseReference(image)
	var e *acrclient.Error
	if perr != nil || !errors.As(err, &e) {
		return "rpc error: code = Unknown desc = " + err.Error()
	}
	host, repo := ref.Context().RegistryStr(), ref.Context().RepositoryStr()
	prefix := fmt.Sprintf("rpc error: code = Unknown desc = failed to pull and unpack image %q: failed to resolve reference %q: ", ref.String(), ref.String())
	switch {
	case e.Status == http.StatusUnauthorized:
		return prefix + fmt.Sprintf("failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://%s/oauth2/token?scope=repository%%3A%s%%3Apull&service=%s: %d %s",
			host, repo, host, e.Status, http.StatusText(e.Status))
	default:
		return prefix + fmt.Sprintf("unexpected status from HEAD request to https://%s/v2/%s/manifests/%s: %d %s", host, repo, ref.Identifier(), e.Status, http.StatusText(e.Status))
	}
}
