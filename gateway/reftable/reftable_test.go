package reftable

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func newStringTable() *Table[string] {
	return New("test", "test-topic", func(key, value []byte, _ map[string]string) (string, string, bool) {
		if string(value) == "bad" {
			return "", "", false
		}
		return string(key), string(value), true
	}, slog.Default())
}

func present(v string, ok bool) bool { return ok }

func TestWait(t *testing.T) {
	const long = time.Minute // a waiter not woken would return after this, without the value
	for _, tc := range []struct {
		name    string
		before  func(*Table[string])         // before Wait
		during  func(*Table[string])         // while Wait waits
		want    func(v string, ok bool) bool // what Wait waits for
		within  time.Duration
		cancel  bool
		wantV   string
		wantOK  bool
		wantTop bool // Wait gave up (timeout or cancel)
	}{
		{name: "already there", before: func(tb *Table[string]) { tb.Put("k", "v1", false) }, want: present, within: long, wantV: "v1", wantOK: true},
		{name: "a writer's Put wakes it", during: func(tb *Table[string]) { tb.Put("k", "v1", false) }, want: present, within: long, wantV: "v1", wantOK: true},
		{name: "the feed wakes it", during: func(tb *Table[string]) {
			tb.mu.Lock()
			tb.apply(tb.decodeRecord(&kgo.Record{Key: []byte("k"), Value: []byte("from the feed")}))
			tb.mu.Unlock()
		}, want: present, within: long, wantV: "from the feed", wantOK: true},
		{name: "another key does not satisfy it", during: func(tb *Table[string]) { tb.Put("other", "v", false) }, want: present, within: 50 * time.Millisecond, wantTop: true},
		{name: "a value it does not want, then one it does", before: func(tb *Table[string]) { tb.Put("k", "pending", false) }, during: func(tb *Table[string]) {
			tb.Put("k", "still pending", false)
			tb.Put("k", "settled", false)
		}, want: func(v string, ok bool) bool { return ok && v == "settled" }, within: long, wantV: "settled", wantOK: true},
		{name: "a record that does not decode leaves it waiting", during: func(tb *Table[string]) {
			tb.mu.Lock()
			tb.apply(tb.decodeRecord(&kgo.Record{Key: []byte("k"), Value: []byte("bad")}))
			tb.mu.Unlock()
		}, want: present, within: 50 * time.Millisecond, wantTop: true},
		{name: "gives up at the deadline", want: present, within: 20 * time.Millisecond, wantTop: true},
		{name: "gives up when the context ends", want: present, within: long, cancel: true, wantTop: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := newStringTable()
			if tc.before != nil {
				tc.before(tb)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type got struct {
				v  string
				ok bool
			}
			done := make(chan got, 1)
			go func() {
				v, ok := tb.Wait(ctx, "k", tc.within, tc.want)
				done <- got{v, ok}
			}()
			// Act once Wait is registered (or has returned at once).
			for i := 0; i < 1000; i++ {
				tb.mu.RLock()
				n := len(tb.waiters["k"])
				tb.mu.RUnlock()
				if n > 0 || len(done) > 0 {
					break
				}
				time.Sleep(time.Millisecond)
			}
			if tc.during != nil {
				tc.during(tb)
			}
			if tc.cancel {
				cancel()
			}
			g := <-done
			if tc.wantTop {
				if tc.want(g.v, g.ok) {
					t.Errorf("Wait returned %q, %v: a value it wants, yet it should have given up", g.v, g.ok)
				}
			} else if g.v != tc.wantV || g.ok != tc.wantOK {
				t.Errorf("Wait = %q, %v; want %q, %v", g.v, g.ok, tc.wantV, tc.wantOK)
			}
			tb.mu.RLock()
			left := len(tb.waiters)
			tb.mu.RUnlock()
			if left != 0 {
				t.Errorf("%d keys still have waiters after Wait returned", left)
			}
		})
	}
}

func TestLoadedClosesOnceLoaded(t *testing.T) {
	tb := newStringTable()
	select {
	case <-tb.Loaded():
		t.Fatal("Loaded is closed before the table has read its feed")
	default:
	}
	if tb.Ready() == nil {
		t.Fatal("ready before loading")
	}
	tb.markLoaded()
	tb.markLoaded() // a second end of the feed must not close it twice
	select {
	case <-tb.Loaded():
	default:
		t.Fatal("Loaded not closed once the table is loaded")
	}
	if err := tb.Ready(); err != nil {
		t.Fatalf("not ready once loaded: %v", err)
	}
}

// Position is asked from inside Range (the РЭМД sweep asks, of every
// pending document, whether its partition is caught up) while the feed
// waits to apply records. Taking the table's read lock a second time
// there waited behind the feed's write lock, which waited for the first:
// the table stopped, and with it every callback (a bench run's РЭМД
// registrations stopped at a third).
func TestPositionFromInsideRange(t *testing.T) {
	tb := newStringTable()
	tb.Put("k", "v", false)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tb.Range(func(string, string) bool {
			writing := make(chan struct{})
			go func() {
				close(writing)
				tb.Put("other", "v", false) // waits for Range's read lock
			}()
			<-writing
			time.Sleep(50 * time.Millisecond) // the writer is waiting now
			_ = tb.Position(0)
			return false
		})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Position inside Range, with a writer waiting, never returned")
	}
	if _, ok := tb.Get("other"); !ok {
		t.Error("the writer's Put was lost")
	}
}
