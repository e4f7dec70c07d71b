package wssec

import (
	"testing"

	"github.com/egisz-gateway/egisz-gateway/internal/cryptotest"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

// ecdsaSigner is an in-process P-256 signer with its key and certificate:
// xmlsec1 checks our XML signatures with it.
type ecdsaSigner = cryptotest.ECDSASigner

// newECDSASigner makes a P-256 key and a self-signed certificate.
func newECDSASigner(t testing.TB) *ecdsaSigner {
	return cryptotest.NewECDSASigner(t, "wssec test", false)
}

// needXmlsec1 returns xmlsec1's path, skipping the test when it is missing
// (failing it under CI=true).
func needXmlsec1(t testing.TB) string { return testtool.Require(t, "xmlsec1") }
