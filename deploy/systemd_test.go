package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
)

// unit is a parsed systemd unit file: section -> key -> values.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not key=value in a section: %q", path, n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func (u unit) get(t *testing.T, section, key string) string {
	t.Helper()
	v := u[section][key]
	if len(v) != 1 {
		t.Fatalf("[%s] %s: %d values, want 1", section, key, len(v))
	}
	return v[0]
}

// render replaces the instance specifier and ${VAR}s as systemd would.
func render(s, instance string, env map[string]string) string {
	s = strings.ReplaceAll(s, "%i", instance)
	return regexp.MustCompile(`\$\{(\w+)\}`).ReplaceAllStringFunc(s, func(m string) string {
		return env[m[2:len(m)-1]]
	})
}

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			k, v, _ := strings.Cut(line, "=")
			env[k] = v
		}
	}
	return env
}

// Each unit, rendered for the port of the example configuration, runs a
// pegasus subcommand with flags the binary has, reading a configuration
// file that exists among the examples and loads, with its data directory
// where the unit runs.
func TestSystemdUnits(t *testing.T) {
	bin := oneboxtest.Binary(t)
	for _, c := range []struct {
		unit, instance, role string
	}{
		{"pegasus-meta@.service", "34601", "meta"},
		{"pegasus-replica@.service", "34801", "replica"},
		{"pegasus-collector@.service", "34101", "collector"},
		{"pegasus-redis-proxy@.service", "6379", "redis-proxy"},
	} {
		t.Run(c.role, func(t *testing.T) {
			u := parseUnit(t, filepath.Join("systemd", c.unit))
			if u.get(t, "Service", "User") != "pegasus" || u.get(t, "Service", "KillSignal") != "SIGTERM" {
				t.Errorf("unit must run as pegasus and stop with SIGTERM (graceful stop)")
			}
			if u.get(t, "Install", "WantedBy") != "multi-user.target" {
				t.Errorf("WantedBy")
			}
			env := map[string]string{}
			if ef, ok := u["Service"]["EnvironmentFile"]; ok {
				name := filepath.Base(render(ef[0], c.instance, nil))
				env = readEnvFile(t, filepath.Join("config", "host1", name))
			}
			exec := strings.Fields(render(u.get(t, "Service", "ExecStart"), c.instance, env))
			if exec[0] != "/opt/pegasus/bin/pegasus" || exec[1] != c.role {
				t.Fatalf("ExecStart %q does not run pegasus %s", exec, c.role)
			}
			// The binary parses every flag before it prints help: an
			// unknown subcommand or flag fails.
			runHelp(t, bin, exec[1:], env)

			for i, a := range exec {
				if a != "--config" {
					continue
				}
				path := exec[i+1]
				if path != "/etc/pegasus/"+c.role+"-"+c.instance+".toml" {
					t.Errorf("config path %s", path)
				}
				matches, _ := filepath.Glob(filepath.Join("config", "*", filepath.Base(path)))
				if len(matches) == 0 {
					t.Fatalf("no example configuration %s under deploy/config", filepath.Base(path))
				}
				for _, m := range matches {
					dataDir := loadRoleConfig(t, c.role, m)
					if wd := u["Service"]["WorkingDirectory"]; dataDir != "" && (len(wd) != 1 || render(wd[0], c.instance, nil) != dataDir) {
						t.Errorf("%s: data_dir %s is not the unit's WorkingDirectory %v", m, dataDir, wd)
					}
				}
			}
		})
	}
}

// runHelp runs `pegasus <args> --help` and fails when pegasus rejects the
// command line.
func runHelp(t *testing.T, bin string, args []string, env map[string]string) {
	t.Helper()
	cmd := exec.Command(bin, append(slices.Clone(args), "--help")...)
	cmd.Dir = t.TempDir()
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pegasus %q rejected: %v\n%s", args, err, out)
	}
}

// loadRoleConfig loads and validates an example configuration of role and
// returns its data directory ("" for roles without one).
func loadRoleConfig(t *testing.T, role, path string) string {
	t.Helper()
	var err error
	dataDir := ""
	switch role {
	case "meta":
		cfg := config.DefaultMeta()
		if err = config.Load(path, &cfg); err == nil {
			err = cfg.Validate()
		}
		dataDir = cfg.DataDir
	case "replica":
		cfg := config.DefaultReplica()
		if err = config.Load(path, &cfg); err == nil {
			err = cfg.Validate()
		}
		dataDir = cfg.DataDir
	case "collector":
		cfg := config.DefaultCollector()
		if err = config.Load(path, &cfg); err == nil {
			err = cfg.Validate()
		}
	default:
		t.Fatalf("no configuration file for %s", role)
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return dataDir
}

// The three example hosts form one cluster: every replica server and the
// collector list exactly the meta servers the hosts run, and every meta
// server shares the etcd cluster and cluster name.
func TestProductionLayout(t *testing.T) {
	var metas []string
	var etcd []string
	for _, p := range mustGlob(t, "config/*/meta-*.toml") {
		cfg := config.DefaultMeta()
		if err := config.Load(p, &cfg); err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		metas = append(metas, cfg.Listen)
		if etcd != nil && !slices.Equal(etcd, cfg.EtcdEndpoints) {
			t.Errorf("%s: etcd endpoints %v differ from %v", p, cfg.EtcdEndpoints, etcd)
		}
		etcd = cfg.EtcdEndpoints
		if cfg.ClusterName != "prod" || len(cfg.EtcdEndpoints) != 3 {
			t.Errorf("%s: cluster %q, etcd %v", p, cfg.ClusterName, cfg.EtcdEndpoints)
		}
	}
	slices.Sort(metas)
	if len(metas) != 3 {
		t.Fatalf("meta servers %v, want one per host", metas)
	}
	replicas := mustGlob(t, "config/*/replica-*.toml")
	if len(replicas) != 3 {
		t.Fatalf("replica configurations %v, want one per host", replicas)
	}
	for _, p := range replicas {
		cfg := config.DefaultReplica()
		if err := config.Load(p, &cfg); err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got := slices.Sorted(slices.Values(cfg.MetaServers)); !slices.Equal(got, metas) {
			t.Errorf("%s: meta_servers %v, want %v", p, got, metas)
		}
	}
	for _, p := range mustGlob(t, "config/*/collector-*.toml") {
		cfg := config.DefaultCollector()
		if err := config.Load(p, &cfg); err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(slices.Values(cfg.MetaServers)); !slices.Equal(got, metas) {
			t.Errorf("%s: meta_servers %v, want %v", p, got, metas)
		}
	}
	for _, p := range mustGlob(t, "config/*/redis-proxy-*.env") {
		env := readEnvFile(t, p)
		got := strings.Split(env["PEGASUS_META_SERVERS"], ",")
		slices.Sort(got)
		if !slices.Equal(got, metas) || env["PEGASUS_REDIS_TABLE"] == "" {
			t.Errorf("%s: %v", p, env)
		}
	}
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) == 0 {
		t.Fatalf("%s matches nothing (%v)", pattern, err)
	}
	return m
}

// The rolling-update guide and the README drive systemd with
// pegasus-{role}@{port}; a unit exists for every role the orchestrator
// names.
func TestDocsNameTheUnits(t *testing.T) {
	for _, doc := range []string{"../docs/rolling-update.md", "../README.md"} {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`pegasus-\{?(\w+)\}?@\{(\w+)\}`).FindAllStringSubmatch(string(data), -1) {
			if m[2] != "port" {
				t.Errorf("%s: %s: units are instantiated by port, not {%s}", doc, m[0], m[2])
			}
			roles := []string{m[1]}
			if m[1] == "role" {
				roles = []string{"meta", "replica", "collector"}
			}
			for _, r := range roles {
				if _, err := os.Stat(filepath.Join("systemd", "pegasus-"+r+"@.service")); err != nil {
					t.Errorf("%s names %s, but there is no unit for %s: %v", doc, m[0], r, err)
				}
			}
		}
	}
}
