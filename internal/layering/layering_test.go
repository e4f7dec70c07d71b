package layering

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rules are the module's import rules (DESIGN §1): cmd → gateway, dlq →
// adapters → seam → topics, with the runtime parking through the
// dead-letter record format alone.
var rules = []struct {
	name string
	Rule
}{
	{"the runtime reaches neither the domain nor the DLQ operations service",
		Rule{From: []string{"gateway"}, Forbidden: []string{"adapters", "dlq", "cmd"}, Except: []string{"dlq/record"}}},
	{"the DLQ record format is the runtime's to import",
		Rule{From: []string{"dlq/record"}, Forbidden: []string{"adapters", "dlq", "cmd"}, Except: []string{"dlq/record"}}},
	{"the domain does not know the runtime",
		Rule{From: []string{"adapters"}, Forbidden: []string{"gateway", "dlq", "cmd"}}},
	{"the seam and the catalog stand alone",
		Rule{From: []string{"seam", "topics"}, Forbidden: []string{"adapters", "gateway", "dlq", "cmd", "internal"}}},
}

func TestImportRules(t *testing.T) {
	m := Module{Path: "github.com/egisz-gateway/egisz-gateway", Root: filepath.Join("..", "..")}
	for _, tc := range rules {
		t.Run(tc.name, func(t *testing.T) {
			for _, dir := range tc.From {
				if pkgs, err := m.Packages(dir); err != nil || len(pkgs) == 0 {
					t.Fatalf("no packages under %s (%v): the rule would check nothing", dir, err)
				}
			}
			reaches, err := m.Check(tc.Rule)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range reaches {
				t.Errorf("%s reaches %s: %s", r.From, r.To, r)
			}
		})
	}
}

// The walk itself, on a module written for the test: it must find a
// forbidden package at any depth, name the shortest chain, honour the
// exceptions, and skip test files, testdata and other modules.
func TestCheckFindsWhatIsReached(t *testing.T) {
	root := t.TempDir()
	const mod = "example.com/m"
	write := func(dir, file, imports string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		b.WriteString("package " + filepath.Base(dir) + "\n\nimport (\n")
		for _, imp := range strings.Fields(imports) {
			b.WriteString("\t_ \"" + imp + "\"\n")
		}
		b.WriteString(")\n")
		if err := os.WriteFile(filepath.Join(root, dir, file), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("dom", "dom.go", "strings")
	write("ops", "ops.go", mod+"/dom")
	write("ops/format", "format.go", "fmt")
	write("rt/direct", "direct.go", mod+"/dom")
	write("rt/deep", "deep.go", mod+"/rt/middle")
	write("rt/middle", "middle.go", mod+"/ops "+mod+"/ops/format")
	write("rt/clean", "clean.go", mod+"/ops/format example.com/other/dom")
	write("rt/clean", "clean_test.go", mod+"/dom") // tests are not the rule's
	write("rt/testdata/x", "x.go", mod+"/dom")
	m := Module{Path: mod, Root: root}

	for _, tc := range []struct {
		name string
		rule Rule
		want map[string]string // from → chain
	}{
		{"domain forbidden", Rule{From: []string{"rt"}, Forbidden: []string{"dom"}}, map[string]string{
			"rt/direct": "rt/direct → dom",
			"rt/deep":   "rt/deep → rt/middle → ops → dom",
			"rt/middle": "rt/middle → ops → dom",
		}},
		{"service forbidden, its format allowed", Rule{From: []string{"rt"}, Forbidden: []string{"ops"}, Except: []string{"ops/format"}}, map[string]string{
			"rt/deep":   "rt/deep → rt/middle → ops",
			"rt/middle": "rt/middle → ops",
		}},
		{"nothing forbidden is reached", Rule{From: []string{"ops/format", "dom"}, Forbidden: []string{"rt", "ops"}, Except: []string{"ops/format"}}, map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.Check(tc.rule)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]string{}
			for _, r := range got {
				seen[r.From] = r.String()
			}
			for from, chain := range tc.want {
				if seen[from] != chain {
					t.Errorf("%s: chain %q, want %q", from, seen[from], chain)
				}
			}
			for from, chain := range seen {
				if _, ok := tc.want[from]; !ok {
					t.Errorf("%s reported (%s), want nothing", from, chain)
				}
			}
		})
	}
}
