package cms

import (
	"bytes"
	"crypto/x509"
	"errors"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// toIndefinite re-encodes every constructed element of DER with an
// indefinite length, and splits every OCTET STRING longer than 16 bytes
// into a constructed one of 16-byte pieces: the BER a streaming encoder
// writes.
func toIndefinite(t *testing.T, der []byte) []byte {
	t.Helper()
	var out []byte
	for len(der) > 0 {
		header, content, ok := splitDER(der)
		if !ok {
			t.Fatal("bad DER")
		}
		// splitDER knows one-byte tags only; the containers here have no others.
		size := len(content)
		if header[1] >= 0x80 {
			size = 0
			for _, b := range header[2:] {
				size = size<<8 | int(b)
			}
		} else {
			size = int(header[1])
		}
		content, der = content[:size], content[size:]
		switch {
		case header[0]&0x20 != 0:
			out = append(out, header[0], 0x80)
			out = append(out, toIndefinite(t, content)...)
			out = append(out, 0, 0)
		case header[0] == 0x04 && len(content) > 16:
			out = append(out, 0x24, 0x80)
			for len(content) > 0 {
				n := min(16, len(content))
				out = appendElement(out, []byte{0x04}, content[:n])
				content = content[n:]
			}
			out = append(out, 0, 0)
		default:
			out = append(out, header...)
			out = append(out, content...)
		}
	}
	return out
}

func TestBER(t *testing.T) {
	p := newPKI(t, signer.GOST2012_256)
	doc := document(2048)
	der, err := Sign(t.Context(), p.doctor, bytes.NewReader(doc), SignOptions{SigningTime: t0, SigningCertificateV2: true, Certificates: []*x509.Certificate{p.inter.Certificate}})
	if err != nil {
		t.Fatal(err)
	}
	if back, err := berToDER(der); err != nil || !bytes.Equal(back, der) {
		t.Fatalf("DER does not pass through unchanged: %v", err)
	}
	ber := toIndefinite(t, der)
	if bytes.Equal(ber, der) || ber[1] != 0x80 {
		t.Fatal("toIndefinite changed nothing")
	}
	if back, err := berToDER(ber); err != nil || !bytes.Equal(back, der) {
		t.Fatalf("BER does not convert back to the DER: %v", err)
	}
	if _, err := Verify(ber, bytes.NewReader(doc), Options{Verifier: p.verifier(t)}); err != nil {
		t.Errorf("BER container: %v", err)
	}
	for _, tc := range []struct {
		name string
		ber  []byte
	}{
		{"no end-of-contents", ber[:len(ber)-2]},
		{"indefinite primitive", []byte{0x04, 0x80, 1, 0, 0}},
		{"five-byte length", []byte{0x04, 0x85, 1, 1, 1, 1, 1}},
		{"length past the end", []byte{0x30, 0x82, 0x10, 0x00, 1}},
		{"constructed OCTET STRING of an INTEGER", []byte{0x24, 0x80, 0x02, 0x01, 0x01, 0, 0}},
		{"deep nesting", bytes.Repeat([]byte{0x30, 0x80}, 100)},
	} {
		if _, err := berToDER(tc.ber); !errors.Is(err, errBER) {
			t.Errorf("%s: %v, want errBER", tc.name, err)
		}
		if _, err := Parse(tc.ber); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Parse: %v, want ErrMalformed", tc.name, err)
		}
	}
}

// TestOpenSSLStreamed: `openssl cms -sign -stream` writes indefinite-length
// BER (and attaches the content): read, and refused as attached.
func TestOpenSSLStreamed(t *testing.T) {
	testtool.RequireOpenSSLGost(t)
	p := newPKI(t, signer.GOST2012_256)
	dir := t.TempDir()
	writeFile(t, dir, "doc.xml", document(10000))
	writeFile(t, dir, "signer.pem", pemCert(p.doctor.Certificate()))
	writeFile(t, dir, "signer.key", pemKey(t, p.doctorKey))
	der := testtool.OpenSSL(t, dir, "cms", "-engine", "gost", "-sign", "-binary", "-stream", "-in", "doc.xml", "-signer", "signer.pem",
		"-inkey", "signer.key", "-md", "md_gost12_256", "-outform", "DER")
	if der[1] != 0x80 {
		t.Fatalf("openssl wrote definite lengths: %x", der[:4])
	}
	if _, err := Parse(der); !errors.Is(err, ErrNotDetached) {
		t.Errorf("streamed attached container: %v, want ErrNotDetached", err)
	}
}

// TestBERToDERPassesDERThrough: DER comes back as the very input (not a
// copy); what is not DER is converted, whatever in it is not.
func TestBERToDERPassesDERThrough(t *testing.T) {
	long := append([]byte{0x04, 0x81, 0x80}, bytes.Repeat([]byte{0x41}, 0x80)...)
	for _, tc := range []struct {
		name     string
		in, want []byte
		same     bool
	}{
		{"DER", []byte{0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0x41}, nil, true},
		{"DER with a long-form length", append([]byte{0x30, 0x81, 0x83}, long...), nil, true},
		{"DER with a high tag number", []byte{0x1f, 0x81, 0x01, 0x00}, nil, true},
		{"a long form that fits the short", []byte{0x30, 0x81, 0x03, 0x02, 0x01, 0x05}, []byte{0x30, 0x03, 0x02, 0x01, 0x05}, false},
		{"a leading zero in the length", []byte{0x30, 0x82, 0x00, 0x03, 0x02, 0x01, 0x05}, []byte{0x30, 0x03, 0x02, 0x01, 0x05}, false},
		{"indefinite, nested in DER", []byte{0x30, 0x06, 0x30, 0x80, 0x05, 0x00, 0x00, 0x00}, []byte{0x30, 0x04, 0x30, 0x02, 0x05, 0x00}, false},
		{"a constructed OCTET STRING", []byte{0x24, 0x06, 0x04, 0x01, 0x41, 0x04, 0x01, 0x42}, []byte{0x04, 0x02, 0x41, 0x42}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := berToDER(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if tc.same {
				want = tc.in
				if &got[0] != &tc.in[0] {
					t.Error("DER was copied, not passed through")
				}
			}
			if !bytes.Equal(got, want) {
				t.Errorf("berToDER(%x) = %x, want %x", tc.in, got, want)
			}
		})
	}
}
