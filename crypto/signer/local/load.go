package local

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/pkcs12"
)

// ErrPasswordRequired is returned for an encrypted PEM key ("ENCRYPTED
// PRIVATE KEY") loaded without a password.
var ErrPasswordRequired = errors.New("local signer: the PEM private key is encrypted and no password was given")

// LoadPEM returns a signer from a PKCS #8 PEM key and a PEM certificate
// bundle: the certificate holding the key's public key is the signer's,
// the others its Chain. The key is a "PRIVATE KEY" block as `openssl
// genpkey [-engine gost]` writes it, or an "ENCRYPTED PRIVATE KEY" block
// (`openssl genpkey -aes-256-cbc`, `openssl pkcs8 -topk8`) opened with
// password; password is ignored for an unencrypted key.
func LoadPEM(keyPEM, certPEM []byte, password string) (*Signer, error) {
	keyDER, err := pemKey(keyPEM, password)
	if err != nil {
		return nil, err
	}
	key, err := gostx509.ParsePrivateKey(keyDER)
	if err != nil {
		// gostx509's errors name the algorithm or the structure, never
		// key bytes.
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	certs, err := gostx509.ParseCertificatesPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return newFromCandidates(key, certs)
}

// pemKey returns the PKCS #8 PrivateKeyInfo DER of the first private key
// block in data, decrypting an encrypted one.
func pemKey(data []byte, password string) ([]byte, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("parse private key: %w: no PRIVATE KEY PEM block", gostx509.ErrMalformed)
		}
		switch b.Type {
		case "PRIVATE KEY":
			return b.Bytes, nil
		case "ENCRYPTED PRIVATE KEY":
			if password == "" {
				return nil, ErrPasswordRequired
			}
			der, err := pkcs12.DecryptPrivateKeyInfo(b.Bytes, password)
			if err != nil {
				return nil, fmt.Errorf("open encrypted private key: %w", err)
			}
			return der, nil
		}
	}
}

// LoadPEMFiles is LoadPEM on two files.
func LoadPEMFiles(keyFile, certFile, password string) (*Signer, error) {
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read private key file: %w", err)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read certificate file: %w", err)
	}
	s, err := LoadPEM(keyPEM, certPEM, password)
	if err != nil {
		return nil, fmt.Errorf("load %s and %s: %w", keyFile, certFile, err)
	}
	return s, nil
}

// LoadPKCS12 returns a signer from a PKCS #12 file's bytes and password.
// The file must hold exactly one private key; of its certificates, the one
// holding that key's public key is the signer's. Errors wrap
// pkcs12.ErrIncorrectPassword, pkcs12.ErrMalformed, a
// *pkcs12.UnsupportedAlgorithmError or ErrKeyCertificateMismatch.
func LoadPKCS12(data []byte, password string) (*Signer, error) {
	contents, err := pkcs12.Decode(data, password)
	if err != nil {
		return nil, fmt.Errorf("open PKCS #12: %w", err)
	}
	if n := len(contents.PrivateKeys); n != 1 {
		return nil, fmt.Errorf("%w: PKCS #12 file holds %d private keys, want 1", ErrUnsupportedKey, n)
	}
	key, err := gostx509.ParsePrivateKey(contents.PrivateKeys[0])
	if err != nil {
		return nil, fmt.Errorf("parse PKCS #12 private key: %w", err)
	}
	certs := make([]*x509.Certificate, 0, len(contents.Certificates))
	for i, der := range contents.Certificates {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS #12 certificate %d: %w", i+1, err)
		}
		certs = append(certs, c)
	}
	return newFromCandidates(key, certs)
}

// LoadPKCS12File is LoadPKCS12 on a file.
func LoadPKCS12File(file, password string) (*Signer, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read PKCS #12 file: %w", err)
	}
	s, err := LoadPKCS12(data, password)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", file, err)
	}
	return s, nil
}
