package remd

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/seam"
)

// xmlsecIDs registers, for xmlsec1, every element an answer's signature
// references by wsu:Id.
var xmlsecIDs = []string{
	"--id-attr:Id", wssec.NamespaceSOAP11 + ":Body",
	"--id-attr:Id", wssec.NamespaceSOAP12 + ":Body",
	"--id-attr:Id", wssec.NamespaceWSU + ":Timestamp",
	"--id-attr:Id", wssec.NamespaceWSA + ":Action",
	"--id-attr:Id", wssec.NamespaceWSA + ":MessageID",
	"--id-attr:Id", wssec.NamespaceWSA + ":RelatesTo",
	"--id-attr:Id", wssec.NamespaceWSSE + ":BinarySecurityToken",
}

// ecdsaGateway is a gateway signing with P-256, which Debian's xmlsec1
// checks (it has no ГОСТ): the answer's XML signature, references and
// canonical forms are judged by an implementation nobody here wrote. The
// key and certificate are testtool's throwaway client pair.
func ecdsaGateway(t testing.TB) (signer.Signer, string) {
	t.Helper()
	pki := testtool.NewPKI(t)
	read := func(file string) []byte {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(b)
		if block == nil {
			t.Fatalf("%s: no PEM", file)
		}
		return block.Bytes
	}
	key, err := x509.ParseECPrivateKey(read(pki.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(read(pki.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	s, err := local.New(key, cert)
	if err != nil {
		t.Fatal(err)
	}
	return s, pki.CertFile
}

func TestXmlsec1VerifiesAnswers(t *testing.T) {
	bin := testtool.Require(t, "xmlsec1")
	gw, certFile := ecdsaGateway(t)
	f := newFixture(t, func(c *InboxConfig) { c.Signer = gw })
	cda := []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><title>Протокол</title></ClinicalDocument>`)
	const uid = "0b3f8f0e-5c1a-4f61-9d8e-3f0c2d1a7b11"
	for _, v := range []wssec.Version{wssec.SOAP11, wssec.SOAP12} {
		m, err := f.inbox.Inbound(context.Background(), v.ContentType(), f.sign(t, message{version: v, action: ActionGetDocumentFile, messageID: freshID(),
			body: `<cb:getDocumentFileRequest ` + cbNS + `><cb:localUid>` + uid + `</cb:localUid></cb:getDocumentFileRequest>`}))
		if err != nil {
			t.Fatal(err)
		}
		a := f.inbox.Answer(context.Background(), m, seam.File{Found: true, LocalUID: uid, MediaType: "application/xml", Data: cda})
		data := base64.StdEncoding.EncodeToString(cda)
		for _, tampered := range []bool{false, true} {
			t.Run(v.String()+map[bool]string{false: "", true: " tampered file"}[tampered], func(t *testing.T) {
				doc := a.Body
				if tampered {
					// Another document's bytes under the signature.
					doc = tamper(t, doc, data, base64.StdEncoding.EncodeToString(append([]byte("<!-- -->"), cda...)))
				}
				file := filepath.Join(t.TempDir(), "answer.xml")
				if err := os.WriteFile(file, doc, 0o600); err != nil {
					t.Fatal(err)
				}
				args := append([]string{"--verify", "--pubkey-cert-pem", certFile}, xmlsecIDs...)
				out, err := exec.Command(bin, append(args, file)...).CombinedOutput()
				if (err == nil) == tampered {
					t.Fatalf("xmlsec1: %v (tampered=%v)\n%s", err, tampered, out)
				}
				// Body, Timestamp, Action, MessageID, RelatesTo.
				if !tampered && !bytes.Contains(out, []byte("SignedInfo References (ok/all): 5/5")) {
					t.Fatalf("xmlsec1 did not check the five references:\n%s", out)
				}
			})
		}
	}
}
