package signerconfig_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/signerconfig"
)

// A configuration section as `egisz-gateway run` would read it, with the
// key files a throwaway dev PKI writes; production names kind
// cryptopro-dss and its section instead.
func Example() {
	dir, err := os.MkdirTemp("", "signer-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	pki, err := local.GenerateDevPKI(context.Background(), signer.GOST2012_256, time.Now(), 24*time.Hour)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := pki.WriteFiles(dir); err != nil {
		fmt.Println(err)
		return
	}

	doc := fmt.Sprintf(`
kind: local
local:
  key_file: %s
  cert_file: %s
`, filepath.Join(dir, "signer.key.pem"), filepath.Join(dir, "signer.pem"))
	var cfg signerconfig.Config
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		fmt.Println(err)
		return
	}
	s, err := signerconfig.New(context.Background(), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}

	h := s.Algorithm().NewHash()
	h.Write([]byte("<soap:Body/>"))
	digest := h.Sum(nil)
	sig, err := s.SignDigest(context.Background(), digest)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Algorithm(), len(sig), "bytes")
	fmt.Println("verifies:", gostx509.VerifyDigest(s.Certificate(), digest, sig) == nil)
	// Output:
	// GOST R 34.10-2012 256 / Streebog-256 64 bytes
	// verifies: true
}
