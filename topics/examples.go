package topics

import (
	"embed"
	"path"
	"sort"
)

// The example payloads under examples/ are part of the contract: the docs
// publish them (make docs copies them to docs/examples), the tests check
// that each validates, and `egisz-gateway dev` seeds its reference feeds
// with them.
//
//go:embed examples/*.json
var examples embed.FS

// Example returns the example payload with the given file name (case.json,
// document.json, …), or nil when there is none.
func Example(name string) []byte {
	b, err := examples.ReadFile(path.Join("examples", name))
	if err != nil {
		return nil
	}
	return b
}

// ExampleNames lists the example files.
func ExampleNames() []string {
	entries, _ := examples.ReadDir("examples")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}
