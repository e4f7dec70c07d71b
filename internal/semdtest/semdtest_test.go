package semdtest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/cda"
	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Event is the docs' example document event, without its file.
func exampleEvent() topics.DocumentEvent {
	return topics.DocumentEvent{
		Kind: "148", LocalUID: "2b1c6a0e-6f0d-4c43-9d0f-2a7e5b1c9d11",
		DocumentID: topics.ID{Root: "1.2.643.5.1.13.13.12.1.42.202.100.1.1.51", Extension: "DOC-731-1"},
		SetID:      topics.ID{Root: "1.2.643.5.1.13.13.12.1.42.202.100.1.1.50", Extension: "SET-731"},
		Version:    1, CreatedAt: "2026-03-20T15:00:00+03:00", MOOID: "1.2.643.5.1.13.13.12.1.42.202",
		Patient: topics.Patient{SNILS: "11223344595", LocalID: "P-000123", FamilyName: "Иванова", GivenName: "Мария", Patronymic: "Петровна", BirthDate: "1985-03-21", Sex: "female"},
		Signers: []topics.Signer{
			{Role: "doctor", Person: &topics.Person{SNILS: "123-456-789 64", FamilyName: "Петров", GivenName: "Алексей", Patronymic: "Сергеевич", PostCode: "109"}, SignedAt: "2026-03-20T15:02:00+03:00"},
			{Role: "organization", SignedAt: "2026-03-20T15:05:00+03:00"},
		},
	}
}

func TestMakeSignsWhatVerifies(t *testing.T) {
	ctx := context.Background()
	for _, alg := range []signer.Algorithm{signer.GOST2012_256, signer.GOST2012_512} {
		t.Run(alg.String(), func(t *testing.T) {
			p, err := NewPKI(ctx, alg, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			v, err := p.Verifier()
			if err != nil {
				t.Fatal(err)
			}
			ev := exampleEvent()
			doc, err := p.Make(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(doc.Event.File.Data, doc.File) || doc.Event.File.Size != int64(len(doc.File)) || len(doc.Event.File.SHA256) != 64 {
				t.Errorf("event's file does not describe the file")
			}
			h, err := cda.Parse(doc.File)
			if err != nil {
				t.Fatal(err)
			}
			if h.ID != ev.DocumentID || h.Patient.SNILS != "11223344595" || h.Code != "86" {
				t.Errorf("header %+v does not follow the event", h)
			}
			for i, sig := range doc.Signatures {
				if !bytes.Equal(doc.Event.Signers[i].Signature, sig) {
					t.Errorf("signers[%d].signature is not the signature made", i)
				}
				res, err := cms.Verify(sig, bytes.NewReader(doc.File), cms.Options{Verifier: v})
				if err != nil {
					t.Fatalf("signature %d: %v", i, err)
				}
				subj, err := gostx509.SubjectOf(res.Signer)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := time.Parse(time.RFC3339, string(ev.Signers[i].SignedAt))
				if !res.SigningTime.Equal(want) {
					t.Errorf("signature %d signed at %v, want %v", i, res.SigningTime, want)
				}
				switch ev.Signers[i].Role {
				case "doctor":
					if subj.SNILS != "12345678964" || subj.Surname != "Петров" || subj.GivenNames != "Алексей Сергеевич" || subj.OGRN != "" {
						t.Errorf("doctor's certificate subject %+v", subj)
					}
				case "organization":
					if subj.SNILS != "" || len(subj.OGRN) != 13 {
						t.Errorf("organization's certificate subject %+v", subj)
					}
				}
			}
			// One certificate per person: a second document reuses it.
			again, err := p.Make(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := cms.Parse(doc.Signatures[0])
			b, _ := cms.Parse(again.Signatures[0])
			if !a.Signer.Equal(b.Signer) {
				t.Error("the same doctor got a second certificate")
			}
		})
	}
}

func TestFilePadsTheBody(t *testing.T) {
	file, err := File(exampleEvent(), 50<<10)
	if err != nil {
		t.Fatal(err)
	}
	if len(file) < 50<<10 || len(file) > 52<<10 {
		t.Errorf("file is %d bytes, want about 50 KiB", len(file))
	}
	if _, err := cda.Parse(file); err != nil {
		t.Fatal(err)
	}
}

func TestOGRNCheckDigit(t *testing.T) {
	for _, oid := range []string{"1.2.643.5.1.13.13.12.1.42.202", "1.2.643.5.1.13.13.12.1.77.1"} {
		o := OGRNFor(oid)
		if len(o) != 13 || o != OGRNFor(oid) {
			t.Fatalf("OGRN %q of %s", o, oid)
		}
		var n uint64
		for _, c := range o[:12] {
			n = n*10 + uint64(c-'0')
		}
		if byte('0'+n%11%10) != o[12] {
			t.Errorf("OGRN %s: check digit wrong", o)
		}
	}
}
