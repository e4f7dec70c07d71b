package adapters_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
)

// reasonConstants reads the code constants of package reasons from its source.
func reasonConstants(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("reasons", "reasons.go"), nil, 0)
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

// TestEveryCodeAnAdapterCanEmit parses the adapters' sources: every reason
// code they name must be in the catalog, and must be produced by a case of
// TestEveryRejectionReason.
func TestEveryCodeAnAdapterCanEmit(t *testing.T) {
	consts := reasonConstants(t)
	cat := reasons.Default()
	covered := map[string]bool{}
	for _, r := range rejections() {
		covered[r.code] = true
	}
	used := map[string]string{} // code -> where
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.HasPrefix(path, "reasons"+string(filepath.Separator)) {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "reasons" {
				if code, ok := consts[sel.Sel.Name]; ok {
					used[code] = fset.Position(sel.Pos()).String()
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(used) < 20 {
		t.Fatalf("found only %d codes in the adapters' sources; the scan is broken", len(used))
	}
	for code, where := range used {
		if _, ok := cat.Lookup(code); !ok {
			t.Errorf("%s (used at %s) is not in the reason catalog", code, where)
		}
		if !covered[code] {
			t.Errorf("%s (used at %s) has no case in TestEveryRejectionReason", code, where)
		}
	}
	for name, code := range consts {
		if _, ok := cat.Lookup(code); !ok {
			t.Errorf("reasons.%s = %q is not in the catalog", name, code)
		}
	}
}
