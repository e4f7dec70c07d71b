package gostx509

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gost3410"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// t0 is the fixed "now" of the tests: certificates are made around it.
var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pki is a root, an intermediate and a doctor's certificate under it.
type pki struct {
	root, inter *TestCA
	leaf        *x509.Certificate
	leafKey     any
}

var doctor = Subject{
	CommonName: "Иванов Иван Иванович", Surname: "Иванов", GivenNames: "Иван Иванович",
	Title: "Врач-терапевт", Organization: "ГБУЗ Городская поликлиника № 1", Country: "RU",
	SNILS: "11223344595", INN: "500100732259",
}

var organisation = Subject{
	CommonName: "ГБУЗ Городская поликлиника № 1", Organization: "ГБУЗ Городская поликлиника № 1",
	Country: "RU", Locality: "Москва", INNLE: "7701234567", OGRN: "1027700132195",
}

func newPKI(t testing.TB, alg signer.Algorithm) *pki {
	t.Helper()
	ctx := context.Background()
	root, err := NewTestCA(ctx, alg, Subject{CommonName: "Test Root CA", Country: "RU"}, t0.AddDate(-5, 0, 0), t0.AddDate(10, 0, 0), rand.Reader)
	if err != nil {
		t.Fatalf("root: %v", err)
	}
	inter, err := root.IssueCA(ctx, Subject{CommonName: "Test Issuing CA", Organization: "Test УЦ"}, t0.AddDate(-2, 0, 0), t0.AddDate(5, 0, 0))
	if err != nil {
		t.Fatalf("intermediate: %v", err)
	}
	key, leaf, err := inter.IssueKey(ctx, alg, SigningTemplate(doctor, t0.AddDate(0, -6, 0), t0.AddDate(0, 6, 0)))
	if err != nil {
		t.Fatalf("leaf: %v", err)
	}
	return &pki{root: root, inter: inter, leaf: leaf, leafKey: key}
}

func pemCert(c *x509.Certificate) []byte {
	return pemEncode("CERTIFICATE", c.Raw)
}

func pemEncode(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// asGOST returns key as a ГОСТ private key, or nil.
func asGOST(key any) *gost3410.PrivateKey {
	k, _ := key.(*gost3410.PrivateKey)
	return k
}

func bigOne() *big.Int { return big.NewInt(1) }
