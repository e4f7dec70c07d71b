package destination

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

func TestAdapterCapabilitiesAndLookup(t *testing.T) {
	for _, tc := range []struct {
		reg          topics.Registry
		callbacks    bool
		hasLookup    bool
		successMeans seam.Result
	}{
		{topics.RegistryIEMK, false, false, seam.Registered},
		{topics.RegistryERX, false, false, seam.Registered},
	} {
		t.Run(string(tc.reg), func(t *testing.T) {
			a := NewAdapter(tc.reg)
			if got := a.Capabilities().Callbacks; got != tc.callbacks {
				t.Fatalf("Callbacks = %v, want %v", got, tc.callbacks)
			}
			call := seam.Call{Method: http.MethodPost, Path: "/iemk/cases", Body: []byte(`{"request_id":"k"}`), IdempotencyKey: "k"}
			signed, err := a.Sign(context.Background(), call)
			if err != nil || string(signed.Body) != string(call.Body) {
				t.Fatalf("Sign changed an unsigned registry's call: %v", err)
			}
			if out := a.Classify(call, http.StatusOK, "", []byte(`{"status":"ok","id":"x"}`)); out.Result != tc.successMeans {
				t.Fatalf("a 200 means %s, want %s", out.Result, tc.successMeans)
			}
			lk, ok := a.Lookup(call)
			if ok != tc.hasLookup {
				t.Fatalf("lookup offered = %v, want %v", ok, tc.hasLookup)
			}
			if !ok {
				return
			}
			if !lk.Lookup || lk.Method != http.MethodGet {
				t.Fatalf("lookup call %+v: want a GET marked Lookup", lk)
			}
			// A lookup's 404 is "nothing there", not a failure to park.
			if out := a.Classify(lk, http.StatusNotFound, "", nil); out.Result != seam.NotFound {
				t.Fatalf("a lookup's 404 means %s, want %s", out.Result, seam.NotFound)
			}
		})
	}
}

// The REST adapters take no inbound messages: every one is refused as
// unreadable (not as unauthenticated: there is nothing to authenticate
// against), and the answer is a 404.
func TestAdapterTakesNoInbound(t *testing.T) {
	for _, reg := range []topics.Registry{topics.RegistryREMD, topics.RegistryIEMK, topics.RegistryERX} {
		t.Run(string(reg), func(t *testing.T) {
			a := NewAdapter(reg)
			_, err := a.Inbound(context.Background(), "application/json", []byte(`{"response_to_request_id":"r","status":"success"}`))
			if !errors.Is(err, ErrNoInbound) || errors.Is(err, seam.ErrUnauthenticated) {
				t.Fatalf("Inbound = %v, want ErrNoInbound", err)
			}
			if ans := a.Answer(context.Background(), seam.Inbound{}, seam.File{}); ans.Status != http.StatusNotFound {
				t.Fatalf("Answer status = %d, want 404", ans.Status)
			}
		})
	}
}
