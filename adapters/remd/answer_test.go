package remd

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/seam"
)

// env12 and env11 wrap body in a SOAP 1.2 or 1.1 envelope with a header
// that is not read (an answer may come signed).
func env12(body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><S:Envelope xmlns:S="` + wssec.NamespaceSOAP12 + `"><S:Header><a:RelatesTo xmlns:a="` +
		wssec.NamespaceWSA + `">urn:uuid:1</a:RelatesTo></S:Header><S:Body>` + body + `</S:Body></S:Envelope>`
}

func env11(body string) string {
	return `<soapenv:Envelope xmlns:soapenv="` + wssec.NamespaceSOAP11 + `"><soapenv:Body>` + body + `</soapenv:Body></soapenv:Envelope>`
}

// svc is an element of the service namespace with a prefix bound on it,
// as JAX-WS writes answers.
func svc(local, content string) string {
	return `<ns2:` + local + ` xmlns:ns2="` + NamespaceService + `">` + content + `</ns2:` + local + `>`
}

// items is errors/item{code, message} for each code; the message echoes a
// patient's СНИЛС, as registries' messages do.
func items(codes ...string) string {
	var b strings.Builder
	b.WriteString("<ns2:errors>")
	for _, c := range codes {
		b.WriteString("<ns2:item><ns2:code>" + c + "</ns2:code><ns2:message>Пациент СНИЛС 112-233-445 95: " + c + "</ns2:message></ns2:item>")
	}
	b.WriteString("</ns2:errors>")
	return b.String()
}

func fault12(code, reason, detail string) string {
	return `<S:Fault><S:Code><S:Value>S:` + code + `</S:Value></S:Code><S:Reason><S:Text xml:lang="ru">` + reason +
		`</S:Text></S:Reason>` + detail + `</S:Fault>`
}

func fault11(code, reason string) string {
	return `<soapenv:Fault><faultcode>soapenv:` + code + `</faultcode><faultstring>` + reason + `</faultstring></soapenv:Fault>`
}

// personalNumber finds what may be a СНИЛС in a text.
var personalNumber = regexp.MustCompile(`\d{3}[- ]?\d{3}[- ]?\d{3}[- ]?\d{2}`)

// Every shape of registerDocument's answer means what the catalog says:
// accepted on success only, the registry's codes first (reconcile over
// retry over park), then the fault's class, then the HTTP status. No
// personal number survives into the reasons or the excerpt.
func TestClassifyRegisterDocument(t *testing.T) {
	a := newAdapter(t, gostSigner(t), wssec.SOAP12)
	// The emulator's shape: the items in a default namespace inside Detail.
	rateLimit := `<S:Detail><errors xmlns="` + NamespaceService + `"><item><code>RATE_LIMIT</code><message>Превышен лимит</message></item></errors></S:Detail>`
	for _, c := range []struct {
		name       string
		status     int
		retryAfter string
		body       string
		want       seam.Result
		codes      []string
		wait       time.Duration
	}{
		{"accepted", 200, "", env12(svc(ElemRegisterResponse, "<ns2:status>success</ns2:status>")), seam.Accepted, nil, 0},
		{"accepted, SOAP 1.1, default namespace", 200, "", env11(`<registerDocumentResponse xmlns="` + NamespaceService + `"><status>success</status></registerDocumentResponse>`), seam.Accepted, nil, 0},
		{"validation error", 200, "", env12(svc(ElemRegisterResponse, "<ns2:status>error</ns2:status>"+items("NO_SNILS", "INVALID_DOCTOR_SNILS"))), seam.Park, []string{"NO_SNILS", "INVALID_DOCTOR_SNILS"}, 0},
		{"already registered", 200, "", env12(svc(ElemRegisterResponse, "<ns2:status>error</ns2:status>"+items("NO_SNILS", "NOT_UNIQUE_PROVIDED_ID"))), seam.Reconcile, []string{"NO_SNILS", "NOT_UNIQUE_PROVIDED_ID"}, 0},
		{"retryable code", 200, "", env12(svc(ElemRegisterResponse, "<ns2:status>error</ns2:status>"+items("CA_INACCESSIBILITY"))), seam.Retry, []string{"CA_INACCESSIBILITY"}, 0},
		{"unknown code", 200, "", env12(svc(ElemRegisterResponse, "<ns2:status>error</ns2:status>"+items("NEW_CODE_2027"))), seam.Park, []string{reasons.RegistryUnknownCode}, 0},
		{"codes with HTTP 400", 400, "", env12(svc(ElemRegisterResponse, "<ns2:status>error</ns2:status>"+items("NOT_UNIQUE_PROVIDED_ID"))), seam.Reconcile, []string{"NOT_UNIQUE_PROVIDED_ID"}, 0},
		{"codes with HTTP 500", 500, "", env12(svc(ElemRegisterResponse, "<ns2:status>error</ns2:status>"+items("NO_SNILS"))), seam.Retry, []string{"NO_SNILS"}, 0},
		{"answer without codes with HTTP 503", 503, "", env12(svc(ElemRegisterResponse, "<ns2:status>error</ns2:status>")), seam.Retry, []string{reasons.HTTPServerError}, 0},
		{"success with HTTP 500", 500, "", env12(svc(ElemRegisterResponse, "<ns2:status>success</ns2:status>")), seam.Retry, []string{reasons.HTTPServerError}, 0},
		{"error without items", 200, "", env12(svc(ElemRegisterResponse, "<ns2:status>error</ns2:status>")), seam.Park, []string{reasons.RegistryUnknownCode}, 0},
		{"rate limit fault", 429, "30", env12(fault12("Receiver", "Too many requests", rateLimit)), seam.Retry, []string{"RATE_LIMIT"}, 30 * time.Second},
		{"rate limit without detail", 429, "", env12(fault12("Receiver", "Too many requests", "")), seam.Retry, []string{reasons.HTTPTooManyRequests}, 0},
		{"outage", 503, "120", env12(fault12("Receiver", "Сервис недоступен", "")), seam.Retry, []string{reasons.HTTPServerError}, 2 * time.Minute},
		{"receiver fault 500", 500, "", env12(fault12("Receiver", "Internal error", "")), seam.Retry, []string{reasons.HTTPServerError}, 0},
		{"sender fault 400", 400, "", env12(fault12("Sender", "Подпись неверна", "")), seam.Park, []string{reasons.HTTPClientError}, 0},
		{"sender fault sent with 500", 500, "", env12(fault12("Sender", "Bad request", "")), seam.Park, []string{reasons.HTTPClientError}, 0},
		{"SOAP 1.1 server fault", 500, "", env11(fault11("Server", "NullPointerException")), seam.Retry, []string{reasons.HTTPServerError}, 0},
		{"SOAP 1.1 client fault with 500", 500, "", env11(fault11("Client.Authentication", "СНИЛС 112-233-445 95 не найден")), seam.Park, []string{reasons.HTTPClientError}, 0},
		{"fault refusing access", 403, "", env12(fault12("Sender", "Access denied", "")), seam.Park, []string{reasons.HTTPUnauthorized}, 0},
		{"fault with codes in detail", 500, "", env11(`<soapenv:Fault><faultcode>soapenv:Server</faultcode><faultstring>x</faultstring><detail>` + svc("errors", "<ns2:item><ns2:code>NOT_UNIQUE_PROVIDED_ID</ns2:code></ns2:item>") + `</detail></soapenv:Fault>`), seam.Reconcile, []string{"NOT_UNIQUE_PROVIDED_ID"}, 0},
		{"proxy page 502", 502, "", "<html><body>Bad Gateway</body></html>", seam.Retry, []string{reasons.HTTPServerError}, 0},
		{"HTML with 200", 200, "", "<html><body>Login</body></html>", seam.Retry, []string{reasons.HTTPServerError}, 0},
		{"empty 200", 200, "", "", seam.Retry, []string{reasons.HTTPServerError}, 0},
		{"another operation's answer", 200, "", env12(svc(ElemSearchResponse, "<ns2:status>success</ns2:status>")), seam.Retry, []string{reasons.HTTPServerError}, 0},
		{"empty body element", 200, "", env12(""), seam.Retry, []string{reasons.HTTPServerError}, 0},
		{"DTD", 200, "", `<!DOCTYPE x [<!ENTITY a "b">]>` + env12(svc(ElemRegisterResponse, "<ns2:status>success</ns2:status>")), seam.Retry, []string{reasons.HTTPServerError}, 0},
		{"unauthorized without body", 401, "", "", seam.Park, []string{reasons.HTTPUnauthorized}, 0},
		{"bad request without body", 400, "", "", seam.Park, []string{reasons.HTTPClientError}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := a.Classify(seam.Call{}, c.status, c.retryAfter, []byte(c.body))
			if out.Result != c.want || out.HTTPStatus != c.status || out.RetryAfter != c.wait {
				t.Errorf("result %s status %d wait %v, want %s %d %v", out.Result, out.HTTPStatus, out.RetryAfter, c.want, c.status, c.wait)
			}
			var codes []string
			for _, r := range out.Reasons {
				codes = append(codes, r.Code)
				for _, m := range []string{r.MessageEN, r.MessageRU} {
					if personalNumber.MatchString(m) {
						t.Errorf("reason %s carries a personal number: %q", r.Code, m)
					}
				}
			}
			if strings.Join(codes, ",") != strings.Join(c.codes, ",") {
				t.Errorf("reasons %v, want %v", codes, c.codes)
			}
			if c.want != seam.Accepted && c.body != "" && out.Excerpt == "" {
				t.Error("a failure without the answer's excerpt")
			}
			// An envelope read as far as its Body's content is excerpted
			// from there; one refused before (a DTD) or with nothing in
			// its Body is excerpted whole.
			fromBody := strings.Contains(c.body, "<S:Body><") && !strings.Contains(c.body, "<S:Body></S:Body>") && !strings.HasPrefix(c.body, "<!DOCTYPE")
			if fromBody && !strings.HasPrefix(out.Excerpt, strings.SplitN(c.body, "<S:Body>", 2)[1][:8]) && c.want != seam.Accepted {
				t.Errorf("excerpt %q does not start at the Body's content", out.Excerpt)
			}
			if personalNumber.MatchString(out.Excerpt) {
				t.Errorf("excerpt carries a personal number: %q", out.Excerpt)
			}
		})
	}
}

// A lookup's answer: registered with the emdrId of the document searched
// for, not found when no item is that document, a failure as a
// registration's.
func TestClassifyLookup(t *testing.T) {
	a := newAdapter(t, gostSigner(t), wssec.SOAP12)
	const uid = "2b1c6a0e-6f0d-4c43-9d0f-2a7e5b1c9d11"
	lk, ok := a.Lookup(mustBuild(t, a))
	if !ok {
		t.Fatal("no lookup")
	}
	match := func(local, emdr string) string {
		return "<ns2:item><ns2:localUid>" + local + "</ns2:localUid><ns2:emdrId>" + emdr + "</ns2:emdrId><ns2:registrationDateTime>2026-03-20T15:30:00+03:00</ns2:registrationDateTime></ns2:item>"
	}
	for _, c := range []struct {
		name   string
		status int
		body   string
		want   seam.Result
		id     string
	}{
		{"found", 200, env12(svc(ElemSearchResponse, "<ns2:status>success</ns2:status><ns2:matches>"+match(uid, "1.2.643.5.1.13.13.17.1.1.77")+"</ns2:matches>")), seam.Registered, "1.2.643.5.1.13.13.17.1.1.77"},
		{"found among others", 200, env12(svc(ElemSearchResponse, "<ns2:status>success</ns2:status><ns2:matches>"+match("other", "E-1")+match(uid, "E-2")+"</ns2:matches>")), seam.Registered, "E-2"},
		{"only another document", 200, env12(svc(ElemSearchResponse, "<ns2:status>success</ns2:status><ns2:matches>"+match("other", "E-1")+"</ns2:matches>")), seam.NotFound, ""},
		{"no matches", 200, env12(svc(ElemSearchResponse, "<ns2:status>success</ns2:status><ns2:matches/>")), seam.NotFound, ""},
		{"item without emdrId", 200, env12(svc(ElemSearchResponse, "<ns2:status>success</ns2:status><ns2:matches>"+match(uid, "")+"</ns2:matches>")), seam.NotFound, ""},
		{"object not found", 200, env12(svc(ElemSearchResponse, "<ns2:status>error</ns2:status>"+items("OBJECT_NOT_FOUND"))), seam.NotFound, ""},
		{"not found as a fault", 500, env12(fault12("Sender", "not found", `<S:Detail>`+svc("errors", "<ns2:item><ns2:code>OBJECT_NOT_FOUND</ns2:code></ns2:item>")+`</S:Detail>`)), seam.NotFound, ""},
		{"getRegistryItem answer", 200, env12(svc(ElemGetItemResponse, "<ns2:emdrId>E-9</ns2:emdrId><ns2:registrationDateTime>2026-03-20T15:30:00+03:00</ns2:registrationDateTime>")), seam.Registered, "E-9"},
		{"not found with HTTP 404", 404, env12(svc(ElemSearchResponse, "<ns2:status>error</ns2:status>"+items("OBJECT_NOT_FOUND"))), seam.NotFound, ""},
		{"matches with HTTP 500", 500, env12(svc(ElemSearchResponse, "<ns2:status>success</ns2:status><ns2:matches>"+match(uid, "E-3")+"</ns2:matches>")), seam.Retry, ""},
		{"search error", 200, env12(svc(ElemSearchResponse, "<ns2:status>error</ns2:status>"+items("INTERNAL_ERROR"))), seam.Retry, ""},
		{"outage", 503, env12(fault12("Receiver", "down", "")), seam.Retry, ""},
		{"registration's answer", 200, env12(svc(ElemRegisterResponse, "<ns2:status>success</ns2:status>")), seam.Retry, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := a.Classify(lk, c.status, "", []byte(c.body))
			if out.Result != c.want || out.RegistryID != c.id {
				t.Errorf("got %s %q (%v), want %s %q", out.Result, out.RegistryID, out.Reasons, c.want, c.id)
			}
		})
	}
}

func mustBuild(t *testing.T, a *Adapter) seam.Call {
	t.Helper()
	ev := documentEvent()
	for i := range ev.Signers {
		ev.Signers[i].Signature = []byte{0x30, 0x00}
	}
	return build(t, a, "document", ev)
}

// No answer at all is a transport failure: retried.
func TestTransportFailure(t *testing.T) {
	a := newAdapter(t, gostSigner(t), wssec.SOAP12)
	out := a.TransportFailure(errDial)
	if out.Result != seam.Retry || len(out.Reasons) != 1 || out.Reasons[0].Code != reasons.TransportError {
		t.Errorf("%+v", out)
	}
}

var errDial = &dialError{}

type dialError struct{}

func (*dialError) Error() string { return "dial tcp: connection refused" }

// Whatever the registry answers, Classify decides without panicking, and
// an outcome is always one of the results.
func FuzzClassify(f *testing.F) {
	f.Add(200, []byte(env12(svc(ElemRegisterResponse, "<ns2:status>success</ns2:status>"))), false)
	f.Add(500, []byte(env11(fault11("Server", "x"))), false)
	f.Add(200, []byte(env12(svc(ElemSearchResponse, "<ns2:status>success</ns2:status><ns2:matches><ns2:item><ns2:emdrId>E</ns2:emdrId></ns2:item></ns2:matches>"))), true)
	a := newAdapter(f, gostSigner(f), wssec.SOAP12)
	f.Fuzz(func(t *testing.T, status int, body []byte, lookup bool) {
		out := a.Classify(seam.Call{Lookup: lookup}, status, "", body)
		switch out.Result {
		case seam.Accepted, seam.Registered, seam.NotFound:
			if status < 200 || status > 299 {
				t.Errorf("%s on HTTP %d", out.Result, status)
			}
		case seam.Retry, seam.Park, seam.Reconcile:
			if len(out.Reasons) == 0 {
				t.Errorf("%s without reasons", out.Result)
			}
		default:
			t.Errorf("result %q", out.Result)
		}
	})
}

// Every reason code this package names is in the catalog and is given by
// Classify for some answer: each answer below is classified, and the
// codes it gives are the ones covered.
func TestEveryCodeTheAdapterNames(t *testing.T) {
	a := newAdapter(t, gostSigner(t), wssec.SOAP12)
	given := map[string]bool{}
	for _, ans := range []struct {
		status int
		body   string
	}{
		{200, env12(svc(ElemRegisterResponse, "<ns2:status>error</ns2:status>"))}, // no items
		{200, "<html/>"}, // a success status with no answer
	} {
		for _, r := range a.Classify(seam.Call{}, ans.status, "", []byte(ans.body)).Reasons {
			given[r.Code] = true
		}
	}
	cat := reasons.Default()
	testtool.RequireCodesCovered(t, testtool.ReasonCodesUsed(t, filepath.Join("..", "reasons", "reasons.go"), "."),
		func(c string) bool { _, ok := cat.Lookup(c); return ok }, func(c string) bool { return given[c] }, "TestEveryCodeTheAdapterNames")
}
