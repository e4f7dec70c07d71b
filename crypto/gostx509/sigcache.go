package gostx509

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"
)

// sigCache remembers which certificates were verified as signed by which
// issuer: a fact about two byte strings that no time, CRL or option
// changes, so remembering it cannot change a verification's outcome, only
// skip its costliest step (a ГОСТ verification costs milliseconds, and the
// same doctor's certificate signs many documents). Only successes are
// kept. It is bounded by two generations of at most half the size each:
// when the current one fills it becomes the previous and the oldest is
// dropped, so what is used stays and memory never exceeds the bound.
type sigCache struct {
	mu        sync.Mutex
	half      int
	cur, prev map[[sha256.Size]byte]struct{}
}

func newSigCache(size int) *sigCache {
	if size <= 0 {
		return nil
	}
	half := max(size/2, 1)
	return &sigCache{half: half, cur: make(map[[sha256.Size]byte]struct{}, half)}
}

// pairKey names the pair (certificate, issuer) by their DER.
func pairKey(cert, issuer *x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	h.Write(cert.Raw)
	h.Write(issuer.Raw)
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (c *sigCache) known(k [sha256.Size]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cur[k]; ok {
		return true
	}
	if _, ok := c.prev[k]; ok {
		c.addLocked(k) // used again: keep it in the current generation
		return true
	}
	return false
}

func (c *sigCache) add(k [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addLocked(k)
}

func (c *sigCache) addLocked(k [sha256.Size]byte) {
	if len(c.cur) >= c.half {
		c.prev, c.cur = c.cur, make(map[[sha256.Size]byte]struct{}, c.half)
	}
	c.cur[k] = struct{}{}
}

// checkCertificateSignature is CheckCertificateSignature through the
// Verifier's cache, when it has one.
func (v *Verifier) checkCertificateSignature(cert, issuer *x509.Certificate) error {
	if v.sigs == nil {
		return CheckCertificateSignature(cert, issuer)
	}
	k := pairKey(cert, issuer)
	if v.sigs.known(k) {
		return nil
	}
	if err := CheckCertificateSignature(cert, issuer); err != nil {
		return err
	}
	v.sigs.add(k)
	return nil
}
