package xmldsig

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/internal/cryptotest"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

// ecdsaSigner is an in-process P-256 signer with its key and certificate:
// xmlsec1 checks our XML signatures with it.
type ecdsaSigner = cryptotest.ECDSASigner

// newECDSASigner makes a P-256 key and a self-signed certificate.
func newECDSASigner(t testing.TB) *ecdsaSigner {
	return cryptotest.NewECDSASigner(t, "xmldsig test", true)
}

// needXmlsec1 returns xmlsec1's path, skipping the test when it is missing
// (failing it under CI=true).
func needXmlsec1(t testing.TB) string { return testtool.Require(t, "xmlsec1") }

// xmlsecPreDigest signs doc (a template with one exc-c14n reference) with
// xmlsec1 and returns the bytes xmlsec1 digested for that reference: its
// exclusive canonical form of the referenced element.
func xmlsecPreDigest(t *testing.T, doc []byte, idAttrArgs []string, prefixList string) []byte {
	t.Helper()
	bin := needXmlsec1(t)
	dir := t.TempDir()
	s := newECDSASigner(t)
	keyFile, _ := s.WritePEM(t, dir)
	in := filepath.Join(dir, "in.xml")
	if err := os.WriteFile(in, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--sign", "--privkey-pem", keyFile, "--store-references"}, idAttrArgs...)
	args = append(args, "--output", filepath.Join(dir, "out.xml"), in)
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("xmlsec1 %v: %v\n%s", args, err, out)
	}
	const startMark, endMark = "== PreDigest data - start buffer:\n", "\n== PreDigest data - end buffer"
	i := bytes.Index(out, []byte(startMark))
	j := bytes.Index(out, []byte(endMark))
	if i < 0 || j < i {
		t.Fatalf("no pre-digest data in xmlsec1's output:\n%s", out)
	}
	return out[i+len(startMark) : j]
}
