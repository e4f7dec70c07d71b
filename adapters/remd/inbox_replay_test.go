package remd

import (
	"fmt"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
)

func TestReplayCacheBounded(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	ts := func(created, ttl time.Duration) wssec.Timestamp {
		return wssec.Timestamp{Created: t0.Add(created), Expires: t0.Add(created + ttl)}
	}
	c := newReplayCache(3)
	// Four messages into room for three: the one that expires first goes.
	for i, ttl := range []time.Duration{5 * time.Minute, time.Minute, 10 * time.Minute, 7 * time.Minute} {
		if !c.take(fmt.Sprint("m", i), ts(0, ttl), 0, wssec.SOAP11, t0) {
			t.Fatalf("m%d refused as a replay", i)
		}
	}
	if n := c.len(); n != 3 {
		t.Fatalf("%d remembered, want 3", n)
	}
	for i, remembered := range []bool{true, false, true, true} {
		if _, ok := c.version(fmt.Sprint("m", i)); ok != remembered {
			t.Fatalf("m%d remembered %v, want %v", i, ok, remembered)
		}
		if again := c.take(fmt.Sprint("m", i), ts(0, time.Minute), 0, wssec.SOAP11, t0); again == remembered {
			t.Fatalf("m%d taken again: %v", i, again)
		}
	}
	// The same MessageID with another Created is another message.
	c = newReplayCache(10)
	skew := 30 * time.Second
	if !c.take("m", ts(0, time.Minute), skew, wssec.SOAP11, t0) || !c.take("m", ts(time.Second, time.Minute), skew, wssec.SOAP12, t0) {
		t.Fatal("a re-signed message refused")
	}
	if v, _ := c.version("m"); v != wssec.SOAP12 {
		t.Fatalf("version %v, want the latest message's", v)
	}
	// Remembered until Expires plus the skew, then forgotten as time passes.
	if c.take("m", ts(0, time.Minute), skew, wssec.SOAP11, t0.Add(time.Minute+skew-time.Millisecond)) {
		t.Fatal("replay within the skew taken")
	}
	c.take("other", ts(2*time.Minute, time.Minute), skew, wssec.SOAP11, t0.Add(2*time.Minute))
	if n := c.len(); n != 1 {
		t.Fatalf("%d remembered after the others expired, want 1", n)
	}
}
