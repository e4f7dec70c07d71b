package gost3410

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"syscall"
	"testing"
	"time"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestZZRatio(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hash := sha256.Sum256([]byte("x"))
	psig, _ := ecdsa.SignASN1(rand.Reader, p256, hash[:])
	for _, c := range []*Curve{tc26256A, cryptoProAParamSet, tc26512A, tc26512C} {
		key, _ := GenerateKey(c, rand.Reader)
		d := make([]byte, c.Size())
		sig, _ := key.SignDigest(rand.Reader, d)
		const N = 300
		for r := 0; r < 3; r++ {
			st := cpuNow()
			for i := 0; i < N; i++ {
				VerifyDigest(&key.PublicKey, d, sig)
			}
			g := (cpuNow() - st) / N
			st = cpuNow()
			for i := 0; i < N; i++ {
				key.SignDigest(rand.Reader, d)
			}
			gs := (cpuNow() - st) / N
			st = cpuNow()
			for i := 0; i < N; i++ {
				ecdsa.VerifyASN1(&p256.PublicKey, hash[:], psig)
			}
			p := (cpuNow() - st) / N
			st = cpuNow()
			for i := 0; i < N; i++ {
				ecdsa.SignASN1(rand.Reader, p256, hash[:])
			}
			ps := (cpuNow() - st) / N
			t.Logf("%-40s verify %v vs %v (x%.2f)  sign %v vs %v (x%.2f)", c.Name, g, p, float64(g)/float64(p), gs, ps, float64(gs)/float64(ps))
		}
	}
}
