package pending

import (
	"errors"
	"testing"
)

// TestOrphanBounds: an orphan is kept only within the bounds in all and
// per source, in count and in bytes; a callback sent again replaces its
// earlier self rather than counting twice; a failed write gives its room
// back and leaves what was there.
func TestOrphanBounds(t *testing.T) {
	limits := orphanLimits{Count: 4, Bytes: 1000, CountPerSource: 2, BytesPerSource: 600}
	type add struct {
		key, src string
		size     int
		fail     bool // the write fails: undo
	}
	for _, tc := range []struct {
		name      string
		before    []add
		next      add
		wantErr   bool
		wantCount int
		wantBytes int
	}{
		{"within every bound", []add{{"a", "s1", 100, false}}, add{"b", "s2", 100, false}, false, 2, 200},
		{"a source's count", []add{{"a", "s1", 10, false}, {"b", "s1", 10, false}}, add{"c", "s1", 10, false}, true, 2, 20},
		{"a source's bytes", []add{{"a", "s1", 500, false}}, add{"b", "s1", 101, false}, true, 1, 500},
		{"the total count", []add{{"a", "s1", 1, false}, {"b", "s2", 1, false}, {"c", "s3", 1, false}, {"d", "s4", 1, false}}, add{"e", "s5", 1, false}, true, 4, 4},
		{"the total bytes", []add{{"a", "s1", 500, false}, {"b", "s2", 450, false}}, add{"c", "s3", 51, false}, true, 2, 950},
		{"sent again replaces", []add{{"a", "s1", 300, false}, {"b", "s1", 300, false}}, add{"a", "s1", 300, false}, false, 2, 600},
		{"a failed write gives the room back", []add{{"a", "s1", 300, false}, {"b", "s1", 300, true}}, add{"c", "s1", 300, false}, false, 2, 600},
		{"a failed re-send keeps the first", []add{{"a", "s1", 300, false}, {"a", "s1", 200, true}}, add{"b", "s1", 300, false}, false, 2, 600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrphanSet(limits)
			apply := func(a add) error {
				undo, err := o.Reserve(a.key, a.src, a.size)
				if err != nil {
					return err
				}
				if a.fail {
					undo()
				} else {
					o.Put(a.key, &CallbackResult{RequestID: a.key}, a.src, a.size)
				}
				return nil
			}
			for _, a := range tc.before {
				if err := apply(a); err != nil {
					t.Fatalf("setting up %+v: %v", a, err)
				}
			}
			err := apply(tc.next)
			if tc.wantErr != errors.Is(err, ErrOrphanLimit) {
				t.Fatalf("reserve %+v = %v, want refused %v", tc.next, err, tc.wantErr)
			}
			if n, b := o.Use(); n != tc.wantCount || b != tc.wantBytes {
				t.Errorf("orphans hold %d, %d bytes; want %d, %d", n, b, tc.wantCount, tc.wantBytes)
			}
			if tc.name == "a failed re-send keeps the first" {
				if cb, ok := o.Result("a"); !ok || cb.RequestID != "a" {
					t.Errorf("the first result of a is gone: %+v %v", cb, ok)
				}
			}
			for _, k := range o.Keys() {
				o.Remove(k)
			}
			if n, b := o.Use(); n != 0 || b != 0 || len(o.bySource) != 0 {
				t.Errorf("after removing every orphan: %d, %d bytes, %d sources", n, b, len(o.bySource))
			}
		})
	}
}
