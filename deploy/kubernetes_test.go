package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
)

// manifests are the decoded objects of deploy/kubernetes.
type manifests struct {
	statefulSets []*appsv1.StatefulSet
	services     []*corev1.Service
	configMaps   []*corev1.ConfigMap
	pdbs         []*policyv1.PodDisruptionBudget
}

// decodeManifests decodes every document of every file strictly: a field
// the API types do not have (a typo, a wrong level of indentation) fails.
func decodeManifests(t *testing.T) manifests {
	t.Helper()
	var m manifests
	for _, path := range mustGlob(t, "kubernetes/*.yaml") {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			var meta metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s #%d: %v", path, i, err)
			}
			var obj any
			switch meta.APIVersion + " " + meta.Kind {
			case "v1 Namespace":
				obj = &corev1.Namespace{}
			case "v1 ConfigMap":
				cm := &corev1.ConfigMap{}
				m.configMaps, obj = append(m.configMaps, cm), cm
			case "v1 Service":
				s := &corev1.Service{}
				m.services, obj = append(m.services, s), s
			case "apps/v1 StatefulSet":
				s := &appsv1.StatefulSet{}
				m.statefulSets, obj = append(m.statefulSets, s), s
			case "policy/v1 PodDisruptionBudget":
				p := &policyv1.PodDisruptionBudget{}
				m.pdbs, obj = append(m.pdbs, p), p
			default:
				t.Fatalf("%s #%d: unexpected %s %s", path, i, meta.APIVersion, meta.Kind)
			}
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Fatalf("%s #%d (%s): %v", path, i, meta.Kind, err)
			}
		}
	}
	return m
}

func TestKubernetesManifests(t *testing.T) {
	m := decodeManifests(t)
	roles := map[string]*appsv1.StatefulSet{}
	for _, s := range m.statefulSets {
		roles[s.Labels["app.kubernetes.io/component"]] = s
		sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(s.Spec.Template.Labels)) {
			t.Errorf("%s: selector does not match its pods: %v", s.Name, err)
		}
		if !slices.ContainsFunc(m.services, func(svc *corev1.Service) bool { return svc.Name == s.Spec.ServiceName }) {
			t.Errorf("%s: no service %s", s.Name, s.Spec.ServiceName)
		}
		pod := s.Spec.Template.Spec
		if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s: pods must run as non-root", s.Name)
		}
	}
	for _, role := range []string{"etcd", "meta", "replica", "collector"} {
		if roles[role] == nil {
			t.Fatalf("no StatefulSet for %s", role)
		}
	}
	// A disruption budget of one pod for every quorum: etcd, meta, replica.
	for _, role := range []string{"etcd", "meta", "replica"} {
		s := roles[role]
		found := false
		for _, p := range m.pdbs {
			sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
			if err == nil && sel.Matches(labels.Set(s.Spec.Template.Labels)) {
				found = p.Spec.MaxUnavailable != nil && p.Spec.MaxUnavailable.IntValue() == 1
			}
		}
		if !found {
			t.Errorf("%s: no PodDisruptionBudget with maxUnavailable 1", role)
		}
	}

	// Replica servers: drained before they stop, Ready only when the
	// cluster is healthy again, updated one ordinal at a time.
	r := roles["replica"]
	c := r.Spec.Template.Spec.Containers[0]
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Exec == nil ||
		!slices.Equal(c.Lifecycle.PreStop.Exec.Command, []string{"/bin/sh", "/usr/local/lib/pegasus/drain.sh"}) {
		t.Errorf("replica preStop is not drain.sh: %+v", c.Lifecycle)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.Exec == nil ||
		!slices.Equal(c.ReadinessProbe.Exec.Command, []string{"/bin/sh", "/usr/local/lib/pegasus/ready.sh"}) {
		t.Errorf("replica readiness is not ready.sh: %+v", c.ReadinessProbe)
	}
	if g := r.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g <= 240 {
		t.Errorf("terminationGracePeriodSeconds %v must exceed the drain timeout", g)
	}
	if u := r.Spec.UpdateStrategy; u.Type != appsv1.RollingUpdateStatefulSetStrategyType || u.RollingUpdate == nil ||
		u.RollingUpdate.Partition == nil || u.RollingUpdate.MaxUnavailable == nil || u.RollingUpdate.MaxUnavailable.IntValue() != 1 {
		t.Errorf("replica updateStrategy %+v", u)
	}
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, script := range []string{"drain.sh", "ready.sh"} {
		if !strings.Contains(string(dockerfile), "deploy/kubernetes/scripts/"+script) {
			t.Errorf("the image does not ship %s", script)
		}
	}
	// Headless services of members resolve before they are ready.
	for _, svc := range m.services {
		if svc.Spec.ClusterIP == corev1.ClusterIPNone && !svc.Spec.PublishNotReadyAddresses {
			t.Errorf("%s: a headless service of members must publish not-ready addresses", svc.Name)
		}
	}
}

// Every container runs a pegasus subcommand with flags the binary has, and
// every configuration file the manifests mount loads and validates.
func TestKubernetesCommands(t *testing.T) {
	m := decodeManifests(t)
	bin := oneboxtest.Binary(t)
	for _, s := range m.statefulSets {
		for _, c := range s.Spec.Template.Spec.Containers {
			env := map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = expand(e.Value, env)
			}
			env["POD_NAME"] = s.Name + "-0"
			var args []string
			for _, a := range c.Args {
				args = append(args, expand(a, env))
			}
			runHelp(t, bin, args, env)
		}
	}
	dir := t.TempDir()
	for _, cm := range m.configMaps {
		for name, body := range cm.Data {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			role := strings.TrimSuffix(name, ".toml")
			// listen comes from the pod's name (--listen); any value
			// makes the file valid to load.
			loadRoleConfig(t, role, path)
		}
	}
}

// expand replaces Kubernetes' $(VAR) references.
func expand(s string, env map[string]string) string {
	return regexp.MustCompile(`\$\((\w+)\)`).ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := env[m[2:len(m)-1]]; ok {
			return v
		}
		return fmt.Sprintf("$(%s)", m[2:len(m)-1])
	})
}
