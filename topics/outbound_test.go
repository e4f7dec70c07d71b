package topics

import (
	"encoding/json"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
)

func TestSplitOutboundMatchesTheFullDecode(t *testing.T) {
	payload := `{"kind":"34","note":"a string with ,\"event\": inside","patient":{"snils":"11223344595"},"event":{"nested":true}}`
	env := OutboundEvent{Kind: "document", PatientKey: "11223344595", DedupKey: `k|"quoted",event`, Version: 3, Update: true,
		Source: "1.2.643.5.1.13.13.12.1.42.202", ReceivedAt: "2026-11-22T10:00:00Z", Event: json.RawMessage(payload)}
	written, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		value string
	}{
		{"as the gateway writes it", string(written)},
		{"event first (another writer)", `{"event":` + payload + `,"kind":"document","patient_key":"11223344595","dedup_key":"k|\"quoted\",event","version":3,"update":true,"source":"1.2.643.5.1.13.13.12.1.42.202","received_at":"2026-11-22T10:00:00Z"}`},
		{"spaces", `{ "kind":"document","patient_key":"11223344595","dedup_key":"k|\"quoted\",event","version":3,"update":true,"source":"1.2.643.5.1.13.13.12.1.42.202","received_at":"2026-11-22T10:00:00Z","event": ` + payload + ` }`},
	} {
		for codec, unmarshal := range map[string]func([]byte, any) error{"encoding/json": json.Unmarshal, "jsoncodec": jsoncodec.Unmarshal} {
			t.Run(tc.name+"/"+codec, func(t *testing.T) {
				ev, raw, err := SplitOutboundWith([]byte(tc.value), unmarshal)
				if err != nil {
					t.Fatal(err)
				}
				var got, want any
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatalf("event %q: %v", raw, err)
				}
				_ = json.Unmarshal([]byte(payload), &want)
				if gb, _ := json.Marshal(got); string(gb) != mustJSON(want) {
					t.Fatalf("event %s, want %s", gb, mustJSON(want))
				}
				ev.Event = nil
				env2 := env
				env2.Event = nil
				if ev != env2 {
					t.Fatalf("envelope %+v, want %+v", ev, env2)
				}
			})
		}
	}
	for _, broken := range []string{`{"kind":`, `{"kind":"document","version":"3","event":{}}`} {
		if _, _, err := SplitOutboundWith([]byte(broken), jsoncodec.Unmarshal); err == nil {
			t.Fatalf("%s decoded", broken)
		}
		if _, _, err := SplitOutbound([]byte(broken)); err == nil {
			t.Fatalf("%s decoded", broken)
		}
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
