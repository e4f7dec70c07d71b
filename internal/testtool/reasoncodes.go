package testtool

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// ReasonCodesUsed parses the non-test Go files under dir (skipping the
// directories named in skip) and returns every reason code they name as
// reasons.<Const>, with where, reading the constants' values from the
// reasons package source at reasonsFile. Tests use it to hold every code an
// adapter can emit to the catalog and to a case that produces it.
func ReasonCodesUsed(t testing.TB, reasonsFile, dir string, skip ...string) map[string]string {
	t.Helper()
	consts := ReasonConstants(t, reasonsFile)
	used := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			for _, s := range skip {
				if d.Name() == s {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "reasons" {
					if code, ok := consts[sel.Sel.Name]; ok {
						used[code] = fset.Position(sel.Pos()).String()
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return used
}

// ReasonConstants reads the untyped string constants (the codes) of the
// reasons package's source file, name to value.
func ReasonConstants(t testing.TB, reasonsFile string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), reasonsFile, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			if vs.Type != nil {
				continue // Owner and Action values, not codes
			}
			for i, name := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						consts[name.Name] = v
					}
				}
			}
		}
	}
	return consts
}

// RequireCodesCovered fails t for every used code (code → where, from
// ReasonCodesUsed) that the catalog does not know (inCatalog) or that no
// case of the named test produces (covered).
func RequireCodesCovered(t testing.TB, used map[string]string, inCatalog, covered func(code string) bool, test string) {
	t.Helper()
	for code, where := range used {
		if !inCatalog(code) {
			t.Errorf("%s (used at %s) is not in the reason catalog", code, where)
		}
		if !covered(code) {
			t.Errorf("%s (used at %s) has no case in %s", code, where, test)
		}
	}
}
