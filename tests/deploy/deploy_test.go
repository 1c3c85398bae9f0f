// Package deploy checks the Kubernetes example of deploy/kubernetes: every manifest
// parses, the imagegate configuration it ships is one imagegate accepts, the policies
// ConfigMap holds exactly the shipped policies, and the Deployment, Service and
// NetworkPolicy agree on names, ports, paths and labels.
package deploy

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"go.yaml.in/yaml/v3"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/policies"
	"github.com/imagegate/imagegate/policy"
)

var update = flag.Bool("update", false, "rewrite deploy/kubernetes/imagegate-policies.yaml from policies/")

const dir = "../../deploy/kubernetes"

// policiesFile is the generated ConfigMap of the shipped policies.
const policiesFile = "imagegate-policies.yaml"

// manifest is one Kubernetes object, as generic YAML and as the fields the tests read.
type manifest struct {
	file string
	raw  map[string]any
	obj  object
}

// object holds the fields of the kinds of the example that the tests check.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		// Deployment
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		// Service
		Ports []struct {
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
		// NetworkPolicy
		PodSelector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"podSelector"`
		Ingress []struct {
			From  []map[string]any `yaml:"from"`
			Ports []struct {
				Port int `yaml:"port"`
			} `yaml:"ports"`
		} `yaml:"ingress"`
	} `yaml:"spec"`
}

type podSpec struct {
	Containers []container `yaml:"containers"`
	Volumes    []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
		Secret *struct {
			SecretName string `yaml:"secretName"`
			Items      []struct {
				Key  string `yaml:"key"`
				Path string `yaml:"path"`
			} `yaml:"items"`
		} `yaml:"secret"`
		EmptyDir any `yaml:"emptyDir"`
	} `yaml:"volumes"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Env     []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	StartupProbe   *probe `yaml:"startupProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Security       struct {
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		SubPath   string `yaml:"subPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// readManifests parses every YAML document of deploy/kubernetes.
func readManifests(t *testing.T) []manifest {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	var out []manifest
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for i := 0; ; i++ {
			var node yaml.Node
			err := dec.Decode(&node)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: document %d is not YAML: %v", f, i, err)
			}
			m := manifest{file: filepath.Base(f)}
			if err := node.Decode(&m.raw); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if err := node.Decode(&m.obj); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, m)
		}
	}
	return out
}

// find returns the one object of kind and name.
func find(t *testing.T, ms []manifest, kind, name string) manifest {
	t.Helper()
	for _, m := range ms {
		if m.obj.Kind == kind && m.obj.Metadata.Name == name {
			return m
		}
	}
	t.Fatalf("no %s %s in %s", kind, name, dir)
	return manifest{}
}

// Every document is an object with apiVersion, kind and name, and the kustomization
// lists every manifest (and nothing else).
func TestManifestsParse(t *testing.T) {
	ms := readManifests(t)
	listed := map[string]bool{}
	for _, m := range ms {
		if m.obj.Kind == "Kustomization" {
			res, _ := m.raw["resources"].([]any)
			for _, r := range res {
				listed[r.(string)] = true
			}
			continue
		}
		if m.obj.APIVersion == "" || m.obj.Kind == "" || m.obj.Metadata.Name == "" {
			t.Errorf("%s: an object without apiVersion, kind or metadata.name", m.file)
		}
	}
	for _, m := range ms {
		if m.obj.Kind != "Kustomization" && !listed[m.file] {
			t.Errorf("kustomization.yaml does not list %s", m.file)
		}
	}
	for f := range listed {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", f, err)
		}
	}
}

// The shipped configuration is one `imagegate serve` accepts, and the Deployment mounts
// every file it names where it names it.
func TestConfigMatchesDeployment(t *testing.T) {
	ms := readManifests(t)
	cm := find(t, ms, "ConfigMap", "imagegate-config")
	path := filepath.Join(t.TempDir(), "imagegate.yaml")
	if err := os.WriteFile(path, []byte(cm.obj.Data["imagegate.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	dep := find(t, ms, "Deployment", "glance")
	ig := containerNamed(t, dep, "imagegate")

	// The environment of the container, with the pod IP the downward API would give.
	env := []string{}
	for _, e := range ig.Env {
		if strings.HasPrefix(e.Name, "IMAGEGATE_") {
			env = append(env, e.Name+"="+strings.ReplaceAll(e.Value, "$(POD_IP)", "10.1.2.3"))
		}
	}
	cfg, err := config.Load(path, env)
	if err != nil {
		t.Fatalf("imagegate refuses the ConfigMap's configuration: %v", err)
	}
	if w := cfg.Warnings(); len(w) > 0 {
		t.Errorf("the example configuration is warned about: %q", w)
	}
	if len(ig.Command) < 4 || ig.Command[len(ig.Command)-1] != "/etc/imagegate/config/imagegate.yaml" {
		t.Errorf("imagegate does not read the mounted configuration: %q", ig.Command)
	}

	mounts := map[string]string{} // mount path → volume
	for _, vm := range ig.VolumeMounts {
		if vm.SubPath != "" {
			t.Errorf("volume %s is mounted with subPath: ConfigMap updates would not reach it", vm.Name)
		}
		mounts[vm.MountPath] = vm.Name
	}
	volumeOf := func(file string) string {
		return mounts[filepath.Dir(file)]
	}
	for key, file := range map[string]string{
		"tls.cert_file": cfg.TLS.CertFile, "tls.key_file": cfg.TLS.KeyFile,
		"upstream.tls.ca_file": cfg.Upstream.TLS.CAFile,
	} {
		if file == "" {
			t.Errorf("%s is not set: the example shows TLS on the listener and the upstream", key)
			continue
		}
		if volumeOf(file) == "" {
			t.Errorf("%s %s is on no volume of the imagegate container", key, file)
		}
	}
	if mounts[cfg.Policy.Dir] != "imagegate-policies" {
		t.Errorf("policy.dir %s is not the imagegate-policies volume (mounts %v)", cfg.Policy.Dir, mounts)
	}
	if cfg.Policy.WatchInterval <= 0 {
		t.Errorf("policy.watch_interval is off: ConfigMap updates would not be picked up")
	}
	if !strings.HasPrefix(cfg.Upstream.URL, "https://127.0.0.1:") {
		t.Errorf("upstream.url %s: the sidecar reaches Glance over TLS on the loopback interface", cfg.Upstream.URL)
	}

	// Ports and probes.
	ports := map[string]int{}
	for _, p := range ig.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if want := portOf(t, cfg.Listen); ports["https"] != want {
		t.Errorf("container port https %d, listen port %d", ports["https"], want)
	}
	if want := portOf(t, cfg.AdminListen); ports["admin"] != want {
		t.Errorf("container port admin %d, admin_listen port %d", ports["admin"], want)
	}
	for name, pr := range map[string]*probe{"startup": ig.StartupProbe, "liveness": ig.LivenessProbe, "readiness": ig.ReadinessProbe} {
		if pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Port != "admin" {
			t.Errorf("%s probe is not an HTTP GET on the admin port", name)
		}
	}
	if ig.LivenessProbe != nil && ig.LivenessProbe.HTTPGet != nil && ig.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe on %s, want /healthz", ig.LivenessProbe.HTTPGet.Path)
	}
	if ig.ReadinessProbe != nil && ig.ReadinessProbe.HTTPGet != nil && ig.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe on %s, want /readyz", ig.ReadinessProbe.HTTPGet.Path)
	}
	sec := ig.Security
	if sec.RunAsNonRoot == nil || !*sec.RunAsNonRoot || sec.ReadOnlyRootFilesystem == nil || !*sec.ReadOnlyRootFilesystem ||
		sec.AllowPrivilegeEscalation == nil || *sec.AllowPrivilegeEscalation {
		t.Errorf("imagegate runs without runAsNonRoot, readOnlyRootFilesystem or with privilege escalation")
	}

	// Glance: loopback only, the port the configuration forwards to, no port declared.
	gl := containerNamed(t, dep, "glance-api")
	if len(gl.Ports) != 0 {
		t.Errorf("glance-api declares ports %v: it listens on the loopback interface only", gl.Ports)
	}
	glanceConf := find(t, ms, "ConfigMap", "glance-config").obj.Data["glance-api.conf"]
	for _, want := range []string{"bind_host = 127.0.0.1", "bind_port = " + strings.TrimPrefix(cfg.Upstream.URL, "https://127.0.0.1:"),
		"flavor = trusted", "cert_file = /etc/glance/tls/tls.crt"} {
		if !strings.Contains(glanceConf, want) {
			t.Errorf("glance-api.conf lacks %q", want)
		}
	}
}

// Every volume the pod mounts exists, and every ConfigMap it names is in the example.
func TestVolumes(t *testing.T) {
	ms := readManifests(t)
	dep := find(t, ms, "Deployment", "glance")
	spec := dep.obj.Spec.Template.Spec
	volumes := map[string]bool{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = true
		if v.ConfigMap != nil {
			find(t, ms, "ConfigMap", v.ConfigMap.Name)
		}
	}
	for _, c := range spec.Containers {
		for _, vm := range c.VolumeMounts {
			if !volumes[vm.Name] {
				t.Errorf("container %s mounts volume %s, which the pod does not have", c.Name, vm.Name)
			}
		}
	}
}

// The Service and the NetworkPolicy select the Deployment's pods and admit imagegate's
// ports only: Glance's port is reachable from nowhere.
func TestServiceAndNetworkPolicy(t *testing.T) {
	ms := readManifests(t)
	dep := find(t, ms, "Deployment", "glance")
	podLabels := dep.obj.Spec.Template.Metadata.Labels
	if !selects(dep.obj.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("the Deployment's selector does not select its pods")
	}
	ig := containerNamed(t, dep, "imagegate")
	named := map[string]int{}
	for _, p := range ig.Ports {
		named[p.Name] = p.ContainerPort
	}

	svc := find(t, ms, "Service", "glance")
	if !selects(svc.raw["spec"].(map[string]any)["selector"], podLabels) {
		t.Errorf("the Service does not select the pods")
	}
	for _, p := range svc.obj.Spec.Ports {
		if p.TargetPort != "https" {
			t.Errorf("the Service exposes port %s: only imagegate's https port is public", p.TargetPort)
		}
	}

	np := find(t, ms, "NetworkPolicy", "glance")
	if !selects(np.obj.Spec.PodSelector.MatchLabels, podLabels) {
		t.Errorf("the NetworkPolicy does not select the pods")
	}
	var admitted []int
	for _, rule := range np.obj.Spec.Ingress {
		if len(rule.Ports) == 0 {
			t.Errorf("an ingress rule admits every port")
		}
		for _, p := range rule.Ports {
			admitted = append(admitted, p.Port)
			if p.Port == named["admin"] && len(rule.From) == 0 {
				t.Errorf("the admin port is admitted from everywhere")
			}
		}
	}
	sort.Ints(admitted)
	want := []int{named["https"], named["admin"]}
	sort.Ints(want)
	if len(admitted) != 2 || admitted[0] != want[0] || admitted[1] != want[1] {
		t.Errorf("the NetworkPolicy admits ports %v, want imagegate's %v only", admitted, want)
	}
}

// imagegate-policies.yaml holds exactly the files of policies/ (tests included, for
// policy.test_on_reload), and they load as a policy set. After a change to policies/,
// regenerate it: go test ./tests/deploy -run TestPoliciesConfigMap -update
func TestPoliciesConfigMap(t *testing.T) {
	want := policiesConfigMap(t)
	path := filepath.Join(dir, policiesFile)
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not the policies of policies/: regenerate it with\n\tgo test ./tests/deploy -run TestPoliciesConfigMap -update", path)
	}

	var cm object
	if err := yaml.Unmarshal(got, &cm); err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{}
	for name, content := range cm.Data {
		files[name] = &fstest.MapFile{Data: []byte(content)}
	}
	set, err := policy.ReadSet(policy.Source{Name: policiesFile, FS: files})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Tests) == 0 {
		t.Errorf("the ConfigMap holds no Rego tests: policy.test_on_reload would test nothing")
	}
	if err := policy.NewEmpty().Load(context.Background(), set); err != nil {
		t.Fatalf("the ConfigMap's policies do not load: %v", err)
	}
}

// policiesConfigMap renders the shipped policies as a ConfigMap.
func policiesConfigMap(t *testing.T) []byte {
	t.Helper()
	entries, err := fs.ReadDir(policies.FS(), ".")
	if err != nil {
		t.Fatal(err)
	}
	data := &yaml.Node{Kind: yaml.MappingNode}
	for _, e := range entries {
		raw, err := fs.ReadFile(policies.FS(), e.Name())
		if err != nil {
			t.Fatal(err)
		}
		data.Content = append(data.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Value: e.Name()},
			&yaml.Node{Kind: yaml.ScalarNode, Value: string(raw), Style: yaml.LiteralStyle})
	}
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		scalar("apiVersion"), scalar("v1"),
		scalar("kind"), scalar("ConfigMap"),
		scalar("metadata"), {Kind: yaml.MappingNode, Content: []*yaml.Node{
			scalar("name"), scalar("imagegate-policies"),
			scalar("labels"), {Kind: yaml.MappingNode, Content: []*yaml.Node{
				scalar("app.kubernetes.io/name"), scalar("glance"),
				scalar("app.kubernetes.io/component"), scalar("imagegate"),
			}},
		}},
		scalar("data"), data,
	}}
	var b bytes.Buffer
	b.WriteString("# The shipped policies of policies/ (Rego, their tests, data.json), mounted at\n" +
		"# /etc/imagegate/policies. Generated: edit policies/, then run\n" +
		"#   go test ./tests/deploy -run TestPoliciesConfigMap -update\n" +
		"# Operators change roles in data.json here, or replace the whole set with their own.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }

func containerNamed(t *testing.T, dep manifest, name string) container {
	t.Helper()
	for _, c := range dep.obj.Spec.Template.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("the Deployment has no container %s", name)
	return container{}
}

// selects says whether every label of selector is on labels.
func selects(selector any, labels map[string]string) bool {
	var sel map[string]string
	switch s := selector.(type) {
	case map[string]string:
		sel = s
	case map[string]any:
		sel = map[string]string{}
		for k, v := range s {
			sel[k], _ = v.(string)
		}
	}
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range p {
		n = n*10 + int(c-'0')
	}
	return n
}
