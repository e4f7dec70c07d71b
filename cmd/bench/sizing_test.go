package main

import (
	"strings"
	"testing"
)

func TestCapacitySizesLatencyRate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		c        capacity
		want     float64
		set      bool
		rate     float64
		explains string
	}{
		{"nothing measured", capacity{}, 2000, false, 2000, ""},
		{"the flag wins", capacity{normalize: 1500, forward: 1000}, 2000, true, 2000, ""},
		{"forward measured: 70% of it", capacity{normalize: 1500, forward: 1234}, 2000, false, 800, "normalize and forward"},
		{"normalize alone when forward was not run", capacity{normalize: 1500}, 2000, false, 1000, "normalize alone"},
		{"fast enough: the rate asked", capacity{normalize: 15000, forward: 4000}, 2000, false, 2000, ""},
		{"never below the floor", capacity{forward: 20}, 2000, false, minLatencyRate, "normalize and forward"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rate, why := tc.c.latencyRate(tc.want, tc.set)
			if rate != tc.rate {
				t.Errorf("rate %.0f, want %.0f", rate, tc.rate)
			}
			if (why == "") != (tc.explains == "") || !strings.Contains(why, tc.explains) {
				t.Errorf("why %q, want it to name %q", why, tc.explains)
			}
		})
	}
}

func TestCapacitySizesMemoryKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    capacity
		want int
		set  bool
		keys int
	}{
		{"nothing measured", capacity{forward: 1000}, 1_000_000, false, 1_000_000},
		{"the flag wins", capacity{normalize: 1500}, 1_000_000, true, 1_000_000},
		{"three minutes of normalize, to 10,000", capacity{normalize: 1547}, 1_000_000, false, 270_000},
		{"fast enough: the keys asked", capacity{normalize: 16000}, 1_000_000, false, 1_000_000},
		{"never below the floor", capacity{normalize: 10}, 1_000_000, false, minMemoryKeys},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, why := tc.c.memoryKeys(tc.want, tc.set)
			if keys != tc.keys {
				t.Errorf("keys %d, want %d", keys, tc.keys)
			}
			if (keys != tc.want) != (why != "") {
				t.Errorf("why %q for %d keys of %d asked", why, keys, tc.want)
			}
		})
	}
}
