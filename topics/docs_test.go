package topics

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// The AsyncAPI document and the JSON Schemas under docs/ are committed so
// that source teams can read the contract without building anything. This
// test fails when they no longer match the catalog: run `make docs`.
func TestCommittedDocsAreCurrent(t *testing.T) {
	docs := filepath.Join("..", "docs")
	want, err := Default().AsyncAPI(ContractVersion)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(docs, "asyncapi.yaml"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("docs/asyncapi.yaml is stale or missing (%v): run `make docs`", err)
	}

	schemas, err := Default().Schemas()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range schemas {
		got, err := os.ReadFile(filepath.Join(docs, SchemasDir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("docs/schemas/%s is stale or missing (%v): run `make docs`", name, err)
		}
	}
	for _, name := range ExampleNames() {
		got, err := os.ReadFile(filepath.Join(docs, "examples", name))
		if err != nil || !bytes.Equal(got, Example(name)) {
			t.Errorf("docs/examples/%s is stale or missing (%v): run `make docs`", name, err)
		}
	}

	entries, err := os.ReadDir(filepath.Join(docs, SchemasDir))
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
	for _, e := range entries {
		if _, ok := schemas[e.Name()]; !ok {
			extra = append(extra, e.Name())
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("docs/schemas has files no catalog type produces: %v: run `make docs`", extra)
	}
}
