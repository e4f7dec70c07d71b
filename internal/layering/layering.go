// Package layering checks the module's import rules (DESIGN §1): which
// parts of the module a package may reach, directly or through others.
// The rules themselves are its test; the package holds the walk.
package layering

import (
	"errors"
	"fmt"
	"go/build"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
)

// Module is a Go module on disk: its path and root directory.
type Module struct {
	Path string // the module path, as go.mod names it
	Root string // the directory holding go.mod
}

// Reach is a package of the module that reaches a forbidden one, and the
// chain of imports from the one to the other (both included).
type Reach struct {
	From, To string // module-relative package paths ("gateway/forward")
	Chain    []string
}

func (r Reach) String() string { return strings.Join(r.Chain, " → ") }

// Packages lists the module's packages under dir (module-relative, "."
// for the root) that hold Go files for this platform, testdata and hidden
// directories left out.
func (m Module) Packages(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(filepath.Join(m.Root, dir), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != filepath.Join(m.Root, dir) && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		if _, err := m.imports(path); err == nil {
			rel, _ := filepath.Rel(m.Root, path)
			out = append(out, filepath.ToSlash(rel))
		} else if !isNoGo(err) {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list packages under %s: %w", dir, err)
	}
	return out, nil
}

// Rule says what the packages under From may not reach: anything under a
// Forbidden prefix, except what lies under an Except prefix.
type Rule struct {
	From, Forbidden, Except []string
}

func (r Rule) forbids(pkg string) bool { return under(pkg, r.Forbidden) && !under(pkg, r.Except) }

// Check returns, for each package under the rule's From, the first package
// of the module it reaches (through its non-test imports, at any depth)
// that the rule forbids, with the chain that gets there.
func (m Module) Check(rule Rule) ([]Reach, error) {
	var from []string
	for _, dir := range rule.From {
		pkgs, err := m.Packages(dir)
		if err != nil {
			return nil, err
		}
		from = append(from, pkgs...)
	}
	var out []Reach
	for _, pkg := range from {
		r, err := m.reach(pkg, rule)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, nil
}

// reach walks pkg's imports breadth first, so the chain reported is a
// shortest one.
func (m Module) reach(pkg string, rule Rule) (*Reach, error) {
	prev := map[string]string{pkg: ""}
	queue := []string{pkg}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur != pkg && rule.forbids(cur) {
			chain := []string{cur}
			for p := prev[cur]; p != ""; p = prev[p] {
				chain = append(chain, p)
			}
			slices.Reverse(chain)
			return &Reach{From: pkg, To: cur, Chain: chain}, nil
		}
		imps, err := m.imports(filepath.Join(m.Root, filepath.FromSlash(cur)))
		if err != nil {
			return nil, fmt.Errorf("read imports of %s: %w", cur, err)
		}
		for _, imp := range imps {
			rel, ok := m.relative(imp)
			if _, seen := prev[rel]; ok && !seen {
				prev[rel] = cur
				queue = append(queue, rel)
			}
		}
	}
	return nil, nil
}

// imports are the non-test imports of the package in dir, as the build
// for this platform sees them.
func (m Module) imports(dir string) ([]string, error) {
	p, err := build.ImportDir(dir, 0)
	if err != nil {
		return nil, err
	}
	return p.Imports, nil
}

// relative is an import path of the module made module-relative; ok is
// false for the standard library and other modules.
func (m Module) relative(imp string) (string, bool) {
	switch {
	case imp == m.Path:
		return ".", true
	case strings.HasPrefix(imp, m.Path+"/"):
		return strings.TrimPrefix(imp, m.Path+"/"), true
	}
	return "", false
}

// under reports whether pkg is one of prefixes or lies beneath one.
func under(pkg string, prefixes []string) bool {
	for _, p := range prefixes {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}

func isNoGo(err error) bool {
	var noGo *build.NoGoError
	return errors.As(err, &noGo)
}
