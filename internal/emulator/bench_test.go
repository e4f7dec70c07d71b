package emulator

import (
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	wire "github.com/egisz-gateway/egisz-gateway/adapters/remd"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// BenchmarkREMDRegistration is one registration end to end, both sides in
// this process: the gateway's signed registerDocument, РЭМД's check of it
// and its signed answer, getDocumentFile and the sender's signed answer,
// the file's digest, signatures (a doctor's, a head's, the
// organisation's) and CDA checked, and the signed result with its signed
// answer. Under ГОСТ 2012-256 beside the same work under ECDSA P-256
// (SHA-256) in the same run: the machine is shared, the ratio counts.
// cpu-ns/op is the process's CPU time (user and system) per registration,
// the figure that matters; ns/op is latency and includes the polling for
// the result.
// The request's own signing is included; the СЭМД's signing is not (the
// MIS does that).
func BenchmarkREMDRegistration(b *testing.B) {
	for _, alg := range []signer.Algorithm{signer.GOST2012_256, signer.ECDSAP256SHA256} {
		b.Run(alg.String(), func(b *testing.B) {
			p := pkiFor(b, alg)
			doc := makeDocWith(b, p, uid1)
			em, srv := startREMDWith(b, p)
			gw := newFakeGatewayWith(b, p)
			gw.anyFile = doc.File
			req := requestFor(doc)
			url := srv.URL + REMDPath
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			b.ResetTimer()
			for i := range b.N {
				r := req
				r.LocalUID = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
				if s := call(b, p.gateway, url, wire.ActionRegisterDocument, gw.srv.URL, r.xml()); s.HTTP != http.StatusOK {
					b.Fatalf("HTTP %d", s.HTTP)
				}
				gw.wait(b, i+1)
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
			if st := em.Stats(REMD); len(st.Codes) > 0 || st.Callbacks != b.N {
				b.Fatalf("%d results delivered for %d registrations, rejections %v", st.Callbacks, b.N, st.Codes)
			}
		})
	}
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
