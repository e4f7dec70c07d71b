package destination_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/destination"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/internal/emulator"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// classified lists the codes TestClassify and the transport test produce.
var classified = map[string]bool{"HTTP_429": true, "HTTP_5XX": true, "HTTP_AUTH": true, "HTTP_4XX": true,
	"REGISTRY_UNKNOWN_CODE": true, "TRANSPORT_ERROR": true}

// TestEveryCodeTheClassifierCanGive holds the codes this package names to
// the catalog and to a case that produces them.
func TestEveryCodeTheClassifierCanGive(t *testing.T) {
	cat := reasons.Default()
	testtool.RequireCodesCovered(t, testtool.ReasonCodesUsed(t, filepath.Join("..", "reasons", "reasons.go"), "."),
		func(c string) bool { _, ok := cat.Lookup(c); return ok }, func(c string) bool { return classified[c] }, "TestClassify")
}

func TestClassify(t *testing.T) {
	c := destination.NewClassifier()
	body := func(codes ...string) []byte {
		var errs []map[string]string
		for _, code := range codes {
			errs = append(errs, map[string]string{"code": code, "message": "m"})
		}
		b, _ := json.Marshal(map[string]any{"status": "error", "errors": errs})
		return b
	}
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		body       []byte
		want       seam.Result
		code       string
	}{
		{"ИЭМК registered", 200, "", []byte(`{"status":"success","id":"iemk-1"}`), seam.Registered, ""},
		{"already registered", 409, "", body("NOT_UNIQUE_PROVIDED_ID"), seam.Reconcile, "NOT_UNIQUE_PROVIDED_ID"},
		{"ИЭМК duplicate", 409, "", body("XDSDuplicateUniqueIdInRegistry"), seam.Reconcile, "XDSDuplicateUniqueIdInRegistry"},
		{"patient mismatch", 422, "", body("PATIENT_MPI_MISMATCH"), seam.Park, "PATIENT_MPI_MISMATCH"},
		{"CA unreachable is retried", 422, "", body("CA_INACCESSIBILITY"), seam.Retry, "CA_INACCESSIBILITY"},
		{"rate limit with a code", 429, "60", body("RATE_LIMIT"), seam.Retry, "RATE_LIMIT"},
		{"bare 429", 429, "7", nil, seam.Retry, "HTTP_429"},
		{"bare 503", 503, "", []byte("<html>busy</html>"), seam.Retry, "HTTP_5XX"},
		{"timeout status", 408, "", nil, seam.Retry, "HTTP_5XX"},
		{"forbidden", 403, "", nil, seam.Park, "HTTP_AUTH"},
		{"bad request", 400, "", nil, seam.Park, "HTTP_4XX"},
		{"an unknown code", 422, "", body("SOMETHING_NEW"), seam.Park, "REGISTRY_UNKNOWN_CODE"},
		{"a family code", 422, "", body("VALSYS_TIMEOUT"), seam.Retry, "VALSYS_TIMEOUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := c.Classify(tc.status, tc.retryAfter, tc.body)
			if out.Result != tc.want {
				t.Fatalf("result %s, want %s (%+v)", out.Result, tc.want, out)
			}
			if tc.code != "" && (len(out.Reasons) == 0 || out.Reasons[0].Code != tc.code || out.Reasons[0].MessageRU == "") {
				t.Fatalf("reasons %+v, want %s with its Russian text", out.Reasons, tc.code)
			}
			if tc.retryAfter == "7" && out.RetryAfter != 7*time.Second {
				t.Fatalf("Retry-After %s", out.RetryAfter)
			}
		})
	}
	if out := c.TransportFailure(errors.New("connection refused")); out.Result != seam.Retry || out.Reasons[0].Code != "TRANSPORT_ERROR" {
		t.Fatalf("transport failure: %+v", out)
	}
}

func outbound(t *testing.T, kind, example string, update bool) topics.OutboundEvent {
	var m map[string]any
	if err := json.Unmarshal(topics.Example(example), &m); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(m)
	return topics.OutboundEvent{Kind: kind, PatientKey: "11223344595", DedupKey: "11223344595|" + kind + "|x", Version: 1, Update: update, Event: json.RawMessage(raw)}
}

// TestCallsAgainstTheEmulator sends every kind of call to the registry
// emulator over real HTTP and classifies its answers.
func TestCallsAgainstTheEmulator(t *testing.T) {
	em := emulator.New("", nil)
	srv := httptest.NewServer(em.Handler())
	defer func() { srv.Close(); em.Close() }()
	c := destination.NewClassifier()

	send := func(call seam.Call) seam.Outcome {
		req, _ := http.NewRequest(call.Method, srv.URL+call.Path, bytes.NewReader(call.Body))
		req.Header.Set("Idempotency-Key", call.IdempotencyKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return c.TransportFailure(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return c.Classify(resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	for _, tc := range []struct {
		registry topics.Registry
		kind     string
		example  string
		want     seam.Result
	}{
		{topics.RegistryIEMK, "case", "case.json", seam.Registered},
		{topics.RegistryIEMK, "lab_result", "lab_result.json", seam.Registered},
		{topics.RegistryERX, "prescription", "prescription.json", seam.Registered},
		{topics.RegistryERX, "dispensation", "dispensation.json", seam.Registered},
	} {
		call, err := destination.Build(tc.registry, outbound(t, tc.kind, tc.example, false), "ce-"+tc.kind+string(tc.registry))
		if err != nil {
			t.Fatal(err)
		}
		if out := send(call); out.Result != tc.want {
			t.Errorf("%s %s: %+v, want %s", tc.registry, tc.kind, out, tc.want)
		}
	}
	if _, err := destination.Build(topics.RegistryERX, outbound(t, "case", "case.json", false), "x"); err == nil {
		t.Error("the prescription registry took a case")
	}
	if call, _ := destination.Build(topics.RegistryIEMK, outbound(t, "case", "case.json", true), "x"); !bytes.Contains(call.Body, []byte(`"action":"update"`)) {
		t.Errorf("an update is not sent as one: %s", call.Body)
	}
}

func TestExcerptMasksPersonalNumbers(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"snils":"112-233-445 95","x":1}`, `{"snils":"**************","x":1}`},
		{`patient 11223344595 not found`, `patient *********** not found`},
		{`enp 5056410878123457`, `enp ****************`},
		{`emdrId 16.62.23.09.000014523 kept`, `emdrId 16.62.23.09.000014523 kept`},
		{strings.Repeat("я", 400), strings.Repeat("я", 256)},
	} {
		if got := destination.Excerpt([]byte(tc.in)); got != tc.want {
			t.Errorf("Excerpt(%.40q) = %.60q, want %.60q", tc.in, got, tc.want)
		}
	}
}
