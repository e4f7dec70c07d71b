package local

import (
	"context"
	"encoding/pem"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// FuzzLoadPEM feeds arbitrary key PEM with a real certificate: no input
// may panic, and nothing but the right key may load.
func FuzzLoadPEM(f *testing.F) {
	pki, err := GenerateDevPKI(context.Background(), signer.GOST2012_256, time.Now(), time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	keyPEM, err := gostx509.MarshalPrivateKeyPEM(pki.Leaf.privateKey())
	if err != nil {
		f.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.Leaf.Certificate().Raw})
	block, _ := pem.Decode(keyPEM)
	f.Add(block.Bytes)
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		for _, typ := range []string{"PRIVATE KEY", "ENCRYPTED PRIVATE KEY"} {
			s, err := LoadPEM(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), certPEM, "pw")
			if err == nil && !s.Certificate().Equal(pki.Leaf.Certificate()) {
				t.Fatal("loaded with another certificate")
			}
		}
	})
}

// FuzzLoadPKCS12 feeds arbitrary bytes as a PKCS #12 file.
func FuzzLoadPKCS12(f *testing.F) {
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x03})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = LoadPKCS12(data, "pw") // must not panic or hang
	})
}
