// Package deploy holds the tests of the deployment files: the alert rules
// (with promtool), the dashboard, and the compose and Kubernetes manifests
// against the binary's ports, flags and environment variables.
package deploy

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type ruleTests struct {
	Tests []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			Alertname string           `yaml:"alertname"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

var cyrillic = regexp.MustCompile(`\p{Cyrillic}`)

// TestAlertRules runs promtool over the rules and their tests, and checks
// that every alert is tested both firing and silent and tells the operator
// what to do in Russian and English.
func TestAlertRules(t *testing.T) {
	promtool := testtool.Require(t, "promtool")
	for _, args := range [][]string{{"check", "rules", "prometheus/alerts.yml"}, {"test", "rules", "prometheus/alerts_test.yml"}} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	var rules ruleFile
	readYAML(t, "prometheus/alerts.yml", &rules)
	var tests ruleTests
	readYAML(t, "prometheus/alerts_test.yml", &tests)
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			if !fires[r.Alert] || !silent[r.Alert] {
				t.Errorf("%s: tested firing %v, tested silent %v; want both", r.Alert, fires[r.Alert], silent[r.Alert])
			}
			if r.Labels["severity"] == "" {
				t.Errorf("%s has no severity", r.Alert)
			}
			for _, k := range []string{"summary", "description", "runbook"} {
				if v := r.Annotations[k]; !cyrillic.MatchString(v) || !strings.Contains(v, " / ") {
					t.Errorf("%s: annotation %s %q is not Russian / English", r.Alert, k, v)
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("%d alerts; the issue names ten situations", n)
	}
}
