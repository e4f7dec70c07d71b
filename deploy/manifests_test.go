package deploy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
)

// docs reads every YAML document of the files matching glob.
func docs(t *testing.T, glob string) map[string][]map[string]any {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no files match %s", glob)
	}
	out := map[string][]map[string]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var d map[string]any
			if err := dec.Decode(&d); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if d != nil {
				out[f] = append(out[f], d)
			}
		}
	}
	return out
}

// walk calls f for every map in v, depth first.
func walk(v any, f func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		f(x)
		for _, c := range x {
			walk(c, f)
		}
	case []any:
		for _, c := range x {
			walk(c, f)
		}
	}
}

func helpOf(t *testing.T, pkg string, args ...string) string {
	t.Helper()
	out, _ := exec.Command("go", append([]string{"run", pkg}, args...)...).CombinedOutput()
	return string(out)
}

// TestManifestsMatchTheBinary checks what can be checked without Docker
// or Kubernetes: every file parses; every environment variable is one
// the gateway reads; the gateway's arguments are its subcommands and
// flags; the ConfigMap's configuration loads; ports, probes and scrape
// targets agree with the port the gateway listens on.
func TestManifestsMatchTheBinary(t *testing.T) {
	known := map[string]bool{"GOMEMLIMIT": true, "GOGC": true}
	for _, v := range config.EnvVars() {
		known[v.Name] = true
	}
	runHelp := helpOf(t, "../cmd/egisz-gateway", "run", "--help")
	emuHelp := helpOf(t, "../cmd/registry-emulator", "--help")
	for _, want := range []string{"-config", "-listen"} {
		if !strings.Contains(runHelp+emuHelp, want) {
			t.Fatalf("help output lacks %s:\n%s\n%s", want, runHelp, emuHelp)
		}
	}
	checkArgs := func(where string, args []any, help string) {
		for _, a := range args {
			s, _ := a.(string)
			if strings.HasPrefix(s, "--") {
				flag := strings.TrimPrefix(s, "-") // Go's flag help spells them with one dash
				if !strings.Contains(help, flag+" ") {
					t.Errorf("%s: flag %s is not in the binary's help", where, s)
				}
			}
		}
	}
	gatewayPort := ""

	// Kubernetes.
	k8s := docs(t, "k8s/*.yaml")
	kinds := map[string]bool{}
	for f, ds := range k8s {
		for _, d := range ds {
			kinds[d["kind"].(string)] = true
			walk(d, func(m map[string]any) {
				if name, ok := m["name"].(string); ok && (m["value"] != nil || m["valueFrom"] != nil) && !known[name] {
					t.Errorf("%s: environment variable %s is not one the gateway reads", f, name)
				}
				if m["name"] == "gateway" && m["image"] != nil {
					args, _ := m["args"].([]any)
					if len(args) == 0 || args[0] != "run" {
						t.Errorf("%s: gateway args %v, want run first", f, args)
					}
					checkArgs(f, args, runHelp)
					for _, p := range m["ports"].([]any) {
						gatewayPort = strings.TrimSpace(strings.ReplaceAll(yamlString(p.(map[string]any)["containerPort"]), "\n", ""))
					}
					for _, probe := range []string{"readinessProbe", "livenessProbe"} {
						pr, _ := m[probe].(map[string]any)
						hg, _ := pr["httpGet"].(map[string]any)
						if hg == nil || hg["port"] != "http" || (hg["path"] != "/readyz" && hg["path"] != "/healthz") {
							t.Errorf("%s: %s %v, want /healthz or /readyz on port http", f, probe, hg)
						}
					}
				}
				if data, ok := m["data"].(map[string]any); ok {
					if y, ok := data["gateway.yaml"].(string); ok {
						p := filepath.Join(t.TempDir(), "gateway.yaml")
						if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
							t.Fatal(err)
						}
						cfg, err := config.Load(p, func(string) string { return "" })
						if err != nil {
							t.Errorf("%s: the ConfigMap's gateway.yaml does not load: %v", f, err)
						} else if _, port, _ := net.SplitHostPort(cfg.HTTP.Listen); port != "9464" {
							t.Errorf("%s: http.listen port %s, the container port is 9464", f, port)
						}
					}
				}
			})
		}
	}
	for _, k := range []string{"StatefulSet", "ConfigMap", "Service", "PodDisruptionBudget", "ServiceMonitor"} {
		if !kinds[k] {
			t.Errorf("no %s among the Kubernetes manifests", k)
		}
	}
	if gatewayPort != "9464" {
		t.Errorf("gateway containerPort %q, want 9464", gatewayPort)
	}

	// Compose.
	for f, ds := range docs(t, "compose/*.y*ml") {
		for _, d := range ds {
			services, _ := d["services"].(map[string]any)
			for name, s := range services {
				svc := s.(map[string]any)
				if env, ok := svc["environment"].(map[string]any); ok && (name == "gateway") {
					for k := range env {
						if !known[k] {
							t.Errorf("%s: %s sets %s, which the gateway does not read", f, name, k)
						}
					}
					if l := env["EGISZ_HTTP_LISTEN"]; l != "0.0.0.0:9464" {
						t.Errorf("%s: gateway listens on %v, Prometheus scrapes gateway:9464", f, l)
					}
				}
				if cmd, ok := svc["command"].([]any); ok {
					switch name {
					case "gateway":
						checkArgs(f, cmd, runHelp)
					case "emulator":
						checkArgs(f, cmd, emuHelp)
					}
				}
			}
			if sc, ok := d["scrape_configs"].([]any); ok {
				var s strings.Builder
				_ = yaml.NewEncoder(&s).Encode(sc)
				if !strings.Contains(s.String(), "gateway:9464") || !strings.Contains(s.String(), "job_name: egisz-gateway") {
					t.Errorf("%s: Prometheus does not scrape job egisz-gateway at gateway:9464 (the alerts select job=\"egisz-gateway\")", f)
				}
			}
		}
	}
}

func yamlString(v any) string {
	b, _ := yaml.Marshal(v)
	return string(b)
}
