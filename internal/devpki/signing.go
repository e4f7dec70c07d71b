package devpki

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
)

// DevClientEntityID is the information system GUID dev and the local
// stacks send to the emulator's ИПС (forward.remd.ips.client_entity_id).
const DevClientEntityID = "00000000-0000-4000-8000-00000000de00"

// Signing is the throwaway ГОСТ PKI of the messages the gateway and the
// registry emulator exchange (WS-Security, ГОСТ Р 34.10-2012 256): one
// test CA, the gateway's key and the emulator's (РЭМД/ИПС) key under it.
// The gateway trusts the emulator's certificate alone for inbound
// messages (RegistryCertFile: a message signed with the gateway's own
// key is refused); the emulator trusts the CA (Trust).
type Signing struct {
	// CAFile is the test CA's certificate (PEM).
	CAFile string
	// GatewayKeyFile and GatewayCertFile are the gateway's key (PKCS #8
	// PEM) and certificate followed by the CA's: forward.remd.ips.signer
	// of kind local.
	GatewayKeyFile, GatewayCertFile string
	// RegistryCertFile is the emulator's certificate alone:
	// forward.remd.ips.inbound_trust.
	RegistryCertFile string
	// Gateway signs as the gateway, Registry as the emulator's РЭМД.
	Gateway, Registry signer.Signer
	// Trust accepts a certificate issued under the CA that may sign: the
	// emulator's check of the gateway's messages.
	Trust func(*x509.Certificate) error
}

// NewSigning issues the signing PKI into dir, which must exist, valid
// from an hour before now for the same validity as the TLS PKI.
func NewSigning(ctx context.Context, dir string, now time.Time) (*Signing, error) {
	pki, err := local.GenerateDevPKI(ctx, signer.GOST2012_256, now, validity)
	if err != nil {
		return nil, fmt.Errorf("dev signing PKI: %w", err)
	}
	if err := pki.WriteFiles(dir); err != nil { // ca.pem, signer.pem, signer.key.pem: the emulator's key
		return nil, fmt.Errorf("dev signing PKI: %w", err)
	}
	ca := pki.Authority.Certificate
	key, cert, err := pki.Authority.IssueKey(ctx, signer.GOST2012_256, gostx509.SigningTemplate(
		gostx509.Subject{CommonName: "egisz-gateway dev", Organization: "egisz-gateway dev", Country: "RU"}, now.Add(-time.Hour), now.Add(validity)))
	if err != nil {
		return nil, fmt.Errorf("dev signing PKI: the gateway's key: %w", err)
	}
	keyPEM, err := gostx509.MarshalPrivateKeyPEM(key)
	if err != nil {
		return nil, fmt.Errorf("dev signing PKI: the gateway's key: %w", err)
	}
	certPEM := func(cs ...*x509.Certificate) []byte {
		var b []byte
		for _, c := range cs {
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		return b
	}
	s := &Signing{CAFile: filepath.Join(dir, "ca.pem"), GatewayKeyFile: filepath.Join(dir, "gateway.key.pem"),
		GatewayCertFile: filepath.Join(dir, "gateway.pem"), RegistryCertFile: filepath.Join(dir, "registry.pem"), Registry: pki.Leaf}
	for _, f := range []struct {
		path string
		data []byte
	}{
		{s.GatewayKeyFile, keyPEM},
		{s.GatewayCertFile, certPEM(cert, ca)},
		{s.RegistryCertFile, certPEM(pki.Leaf.Certificate())},
	} {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			return nil, fmt.Errorf("dev signing PKI: %w", err)
		}
	}
	if s.Gateway, err = local.LoadPEMFiles(s.GatewayKeyFile, s.GatewayCertFile, ""); err != nil {
		return nil, fmt.Errorf("dev signing PKI: %w", err)
	}
	v, err := gostx509.NewVerifier(gostx509.VerifierConfig{Roots: []*x509.Certificate{ca}})
	if err != nil {
		return nil, fmt.Errorf("dev signing PKI: %w", err)
	}
	s.Trust = func(c *x509.Certificate) error {
		_, err := v.Verify(c, gostx509.VerifyOptions{KeyUsage: x509.KeyUsageDigitalSignature})
		return err
	}
	return s, nil
}
