package emulator

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	wire "github.com/egisz-gateway/egisz-gateway/adapters/remd"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
	"github.com/egisz-gateway/egisz-gateway/crypto/xmldsig"
)

// REMDPath is the path of РЭМД's one SOAP endpoint on the emulator, as
// ИПС publishes each service under a path of its own; every operation
// goes there and is told apart by its wsa:Action.
const REMDPath = "/ips/remd"

// Errors of the РЭМД emulator's own work.
var (
	// ErrNoSigner: the emulator has no Config.Signer, so it cannot sign
	// what РЭМД sends.
	ErrNoSigner = errors.New("emulator: no signer configured")
	// ErrMalformedMessage: a message is not of the shape the contract gives.
	ErrMalformedMessage = errors.New("emulator: malformed message")
)

// Limits of what the РЭМД emulator reads.
const (
	maxRequestBytes = 8 << 20
	// maxFileAnswerBytes bounds the gateway's getDocumentFile answer: an
	// 11 MiB document in base64 and its envelope.
	maxFileAnswerBytes = 20 << 20
	// storeYears is how long РЭМД keeps a registration (storeTillDate).
	storeYears = 5
	// deliveryAttempts is how often РЭМД tries a call to the sender
	// (getDocumentFile, the result) before it gives up.
	deliveryAttempts = 5
)

// docState is where a document stands in the emulated РЭМД.
type docState int

const (
	stateProcessing docState = iota + 1 // accepted: file fetch and checks under way
	stateRegistered
	stateRejected
)

// remdDoc is one registration, by localUid.
type remdDoc struct {
	req       registerRequest
	messageID string // the registerDocument's wsa:MessageID
	replyTo   string
	digests   map[signer.Algorithm][]byte
	state     docState
	emdrID    string
	at        time.Time // registration time
}

// remdSOAP serves РЭМД's SOAP endpoint: faults first (as a gateway in
// front of the service injects them), then the WS-Security check of the
// sender, then the operation named by wsa:Action.
func (e *Emulator) remdSOAP(w http.ResponseWriter, r *http.Request) {
	version := wssec.SOAP12
	if strings.HasPrefix(strings.TrimSpace(r.Header.Get("Content-Type")), "text/xml") {
		version = wssec.SOAP11
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		writeFault(w, http.StatusBadRequest, version, faultSender, "request body unreadable or too large", nil)
		return
	}
	e.mu.Lock()
	f := e.faults[REMD]
	st := e.stats[REMD]
	st.Requests++
	e.mu.Unlock()
	if !e.delay(r.Context(), f) {
		return
	}
	if code, retryAfter := e.fault(f); code != 0 {
		e.count(REMD, func(s *Stats) { s.Faulted++ })
		e.soapFault(w, r, version, code, retryAfter)
		return
	}

	v, err := e.verify(body)
	if err != nil {
		e.count(REMD, func(s *Stats) { s.Refused++ })
		e.log.Warn("РЭМД emulator refused a request", "error", err)
		status := http.StatusForbidden
		if errors.Is(err, wssec.ErrNotEnvelope) || errors.Is(err, xmldsig.ErrMalformed) || errors.Is(err, xmldsig.ErrDTD) {
			status = http.StatusBadRequest
		}
		writeFault(w, status, version, faultSender, "the message is not signed by a trusted certificate: "+err.Error(), nil)
		return
	}
	if e.signer == nil {
		// Nothing РЭМД would answer or send could be signed: refuse before
		// anything is recorded.
		writeFault(w, http.StatusInternalServerError, v.Version, faultReceiver, "the registry has no signing key", []Error{{codeInternal, "no signer configured"}})
		return
	}
	if !hasClientEntityID(v.Header) {
		writeFault(w, http.StatusBadRequest, v.Version, faultSender, "no transportHeader/authInfo/clientEntityId naming the information system", nil)
		return
	}
	el, err := bodyElement(v)
	if err != nil {
		writeFault(w, http.StatusBadRequest, v.Version, faultSender, err.Error(), nil)
		return
	}
	switch act := v.Addressing.Action; {
	case act == wire.ActionRegisterDocument && el.Is(wire.NamespaceService, wire.ElemRegisterRequest):
		e.registerDocument(w, r, v, el, f)
	case act == wire.ActionSearchRegistryItem && el.Is(wire.NamespaceService, wire.ElemSearchRequest):
		e.searchRegistryItem(w, r, v, el)
	case act == wire.ActionGetRegistryItem && el.Is(wire.NamespaceService, wire.ElemGetItemRequest):
		e.getRegistryItem(w, r, v, el)
	default:
		writeFault(w, http.StatusBadRequest, v.Version, faultSender,
			fmt.Sprintf("no operation %q with body {%s}%s", act, el.Space, el.Local), nil)
	}
}

// hasClientEntityID reports whether the header carries ИПС's
// transportHeader/authInfo/clientEntityId with a GUID, the information
// system's id ИПС routes and authorizes by (PROTOCOLS.md §1).
func hasClientEntityID(header *xmldsig.Element) bool {
	r := &reader{ns: wire.NamespaceTransport}
	id := r.opt(r.child(r.child(header, "transportHeader"), "authInfo"), "clientEntityId")
	return ident.ValidUUID(id)
}

// verify checks a message's WS-Security signature against Config.Trust:
// the Body, Timestamp, Action and MessageID must be present and signed,
// and every other WS-Addressing header present signed too.
func (e *Emulator) verify(body []byte) (*wssec.Verified, error) {
	if e.trust == nil {
		return nil, errors.New("emulator: no trust configured, every message refused")
	}
	return wssec.Verify(body, wssec.VerifyOptions{
		TrustCertificate: e.trust,
		MustHave:         []wssec.Part{wssec.PartAction, wssec.PartMessageID},
		Now:              e.now(),
	})
}

// soapFault answers an injected fault as ИПС would: 503 for an outage,
// 429 with Retry-After and RATE_LIMIT in the Detail for a throttle, 500
// for an internal error, or nothing until the client gives up (-1).
func (e *Emulator) soapFault(w http.ResponseWriter, r *http.Request, v wssec.Version, code, retryAfter int) {
	switch code {
	case -1:
		select {
		case <-r.Context().Done():
		case <-e.closing:
		}
	case http.StatusTooManyRequests:
		if retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		}
		writeFault(w, code, v, faultReceiver, "rate limit exceeded", []Error{{codeRateLimit, "Превышен лимит запросов: повторите через минуту или позже (injected)"}})
	case http.StatusServiceUnavailable:
		writeFault(w, code, v, faultReceiver, "service unavailable", []Error{{codeRuntime, "Невозможно обработать запрос (injected)"}})
	default:
		writeFault(w, code, v, faultReceiver, "internal error", []Error{{codeInternal, "injected fault"}})
	}
}

func writeFault(w http.ResponseWriter, status int, v wssec.Version, code faultCode, reason string, errs []Error) {
	w.Header().Set("Content-Type", v.ContentType())
	w.WriteHeader(status)
	_, _ = w.Write(faultXML(v, code, reason, wire.NamespaceService, errs))
}

// answer signs body as the answer to the verified request v and writes it.
func (e *Emulator) answer(ctx context.Context, w http.ResponseWriter, v *wssec.Verified, body []byte) {
	out, err := signMessage(ctx, e.signer, v.Version, wssec.Addressing{RelatesTo: v.Addressing.MessageID}, body)
	if err != nil {
		e.log.Error("РЭМД emulator cannot sign its answer", "error", err)
		writeFault(w, http.StatusInternalServerError, v.Version, faultReceiver, "the registry cannot sign its answer", nil)
		return
	}
	w.Header().Set("Content-Type", v.Version.ContentType())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// registerAnswer is registerDocumentResponse{status, errors?}.
func registerAnswer(errs []Error) []byte {
	status := wire.StatusSuccess
	if len(errs) > 0 {
		status = wire.StatusError
	}
	return newElement(wire.NamespaceService, wire.ElemRegisterResponse).text("status", status).errors(errs).end(wire.ElemRegisterResponse)
}

// registerDocument takes a registration: checks the request, records it
// by localUid with the digest its signatures registered, answers at once
// (accepted, or the request's errors), and then fetches the file, checks
// it and sends the result to ReplyTo.
func (e *Emulator) registerDocument(w http.ResponseWriter, r *http.Request, v *wssec.Verified, el *xmldsig.Element, f Faults) {
	req, errs := parseRegister(el)
	if snils := req.Patient.SNILS; snils != "" && slices.Contains(f.Unavailable, snils) {
		e.count(REMD, func(s *Stats) { s.Faulted++ })
		writeFault(w, http.StatusServiceUnavailable, v.Version, faultReceiver, "service unavailable", []Error{{codeRuntime, "Невозможно обработать запрос (injected)"}})
		return
	}
	if len(errs) > 0 {
		e.log.Debug("РЭМД emulator answered a request with errors", "errors", errs)
		e.count(REMD, func(s *Stats) { s.reject(errs) })
		e.answer(r.Context(), w, v, registerAnswer(errs))
		return
	}
	digests, _ := requestDigests(req) // agreed in parseRegister
	replyTo := v.Addressing.ReplyTo
	if replyTo == "" || replyTo == wssec.AnonymousAddress {
		replyTo = e.callback
	}

	e.mu.Lock()
	st := e.stats[REMD]
	d, seen := e.docs[req.LocalUID]
	for _, target := range req.Associations {
		if t, ok := e.byEMDR[target]; !ok || t.state != stateRegistered {
			st.reject([]Error{{codeCanNotAssociate, "Связанный документ не найден"}})
			e.mu.Unlock()
			e.answer(r.Context(), w, v, registerAnswer([]Error{{codeCanNotAssociate, "Связанный документ не найден"}}))
			return
		}
	}
	switch {
	case seen && d.state == stateRegistered:
		st.Resent++
		e.mu.Unlock()
		e.answer(r.Context(), w, v, registerAnswer([]Error{{codeAlreadyRegistered, "Документ с указанным идентификатором (в РМИС/МИС) уже зарегистрирован"}}))
		return
	case seen && d.state == stateProcessing:
		// The same request again while it is being processed: the same
		// answer, and one result.
		st.Resent++
		e.mu.Unlock()
		e.answer(r.Context(), w, v, registerAnswer(nil))
		return
	}
	// New, or rejected before (a rejected document is not registered, so
	// its localUid may be sent again).
	d = &remdDoc{req: req, messageID: v.Addressing.MessageID, replyTo: replyTo, digests: digests, state: stateProcessing}
	e.docs[req.LocalUID] = d
	st.ByKey[req.LocalUID]++
	st.Order = append(st.Order, req.LocalUID)
	st.Times = append(st.Times, time.Now())
	e.pending.Add(1)
	e.mu.Unlock()

	if f.EarlyCallback {
		// The result reaches the sender before the synchronous answer.
		e.process(d, f)
	} else {
		go e.process(d, f)
	}
	e.answer(r.Context(), w, v, registerAnswer(nil))
}

// process is РЭМД's asynchronous part of a registration: the file from
// the sender, its checks, the registration, and the result to ReplyTo.
// The caller has added to e.pending.
func (e *Emulator) process(d *remdDoc, f Faults) {
	defer e.pending.Done()
	var errs []Error
	if code, ok := f.Reject[d.req.Patient.SNILS]; ok && d.req.Patient.SNILS != "" {
		errs = []Error{{code, "rejected by the emulator for this patient"}}
	} else {
		file, ferrs := e.fetchFile(e.ctx, d)
		if e.ctx.Err() != nil {
			return
		}
		errs = ferrs
		if len(errs) == 0 {
			errs = checkFile(d.req, d.digests, file)
		}
	}
	e.mu.Lock()
	// What only the checks needed goes: a long run registers many
	// documents, and each one's signatures and certificates are kilobytes.
	d.req.Signatures, d.req.OrgSignature, d.req.Patient, d.digests = nil, nil, patientData{}, nil
	if len(errs) == 0 {
		e.seq++
		d.state, d.emdrID, d.at = stateRegistered, newID(REMD, e.seq), e.now()
		e.byEMDR[d.emdrID] = d
		// Counted once registered: a document rejected (say, its file
		// could not be fetched) and sent again is one registration.
		e.stats[REMD].Registered++
	} else {
		d.state = stateRejected
		e.stats[REMD].reject(errs)
	}
	e.mu.Unlock()
	if f.RateDropCallbk > 0 && e.rnd() < f.RateDropCallbk {
		return
	}
	if d.replyTo == "" {
		return
	}
	select {
	case <-time.After(f.CallbackDelay):
	case <-e.closing:
		return
	}
	for range 1 + max(f.CallbackRepeats, 0) {
		if !e.sendResult(e.ctx, d, errs) {
			return
		}
	}
}

// call posts a message signed fresh for each attempt to url and returns
// the answer's status and body: transport failures and 5xx answers are
// tried again, deliveryAttempts times in all, as РЭМД's workers do.
// sign makes the message with the MessageID given.
func (e *Emulator) call(ctx context.Context, url string, limit int64, sign func(messageID string) ([]byte, error)) (status int, body []byte, messageID string, err error) {
	for attempt := 0; attempt < deliveryAttempts; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			case <-ctx.Done():
				return 0, nil, "", ctx.Err()
			}
		}
		messageID = newMessageID()
		msg, err := sign(messageID)
		if err != nil {
			return 0, nil, "", err
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		hreq, err := http.NewRequestWithContext(cctx, http.MethodPost, url, bytes.NewReader(msg))
		if err != nil {
			cancel()
			return 0, nil, "", fmt.Errorf("request to the sender: %w", err)
		}
		hreq.Header.Set("Content-Type", wssec.SOAP12.ContentType())
		resp, err := e.client.Do(hreq)
		if err != nil {
			cancel()
			continue
		}
		body, err = io.ReadAll(io.LimitReader(resp.Body, limit))
		resp.Body.Close()
		cancel()
		if err != nil || resp.StatusCode >= 500 {
			continue
		}
		return resp.StatusCode, body, messageID, nil
	}
	return 0, nil, "", fmt.Errorf("the sender did not answer in %d attempts", deliveryAttempts)
}

// fetchFile calls getDocumentFile at the document's ReplyTo and returns
// the file, or the errors РЭМД reports when it cannot get it.
func (e *Emulator) fetchFile(ctx context.Context, d *remdDoc) ([]byte, []Error) {
	if d.replyTo == "" {
		return nil, []Error{{codeMISNotAvailable, "the sending system named no address to fetch the file from"}}
	}
	e.count(REMD, func(s *Stats) { s.FileRequests++ })
	body := newElement(wire.NamespaceCallback, wire.ElemFileRequest).text("localUid", d.req.LocalUID).end(wire.ElemFileRequest)
	status, ans, msgID, err := e.call(ctx, d.replyTo, maxFileAnswerBytes, func(id string) ([]byte, error) {
		return signMessage(ctx, e.signer, wssec.SOAP12, wssec.Addressing{
			Action: wire.ActionGetDocumentFile, MessageID: id, To: d.replyTo, ReplyTo: wssec.AnonymousAddress,
		}, body)
	})
	if err != nil {
		e.log.Warn("РЭМД emulator could not fetch a file", "error", err)
		return nil, []Error{{codeMISNotAvailable, "РЭМД could not reach the sending system to fetch the file"}}
	}
	fail := func(what string) ([]byte, []Error) {
		e.log.Warn("РЭМД emulator got no file", "reason", what)
		return nil, []Error{{wire.CodeFileError, "getDocumentFile failed: " + what}}
	}
	if status != http.StatusOK {
		return fail("HTTP " + strconv.Itoa(status))
	}
	v, err := wssec.Verify(ans, wssec.VerifyOptions{
		TrustCertificate: e.trustOrRefuse, MustHave: []wssec.Part{wssec.PartRelatesTo}, Now: e.now(),
		Limits: xmldsig.Limits{MaxBytes: maxFileAnswerBytes},
	})
	if err != nil {
		return fail("the answer does not verify: " + err.Error())
	}
	if v.Addressing.RelatesTo != msgID {
		return fail("the answer relates to another message")
	}
	el, err := bodyElement(v)
	if err != nil || !el.Is(wire.NamespaceCallback, wire.ElemFileResponse) {
		return fail("the answer is not " + wire.ElemFileResponse)
	}
	rd := &reader{ns: wire.NamespaceCallback}
	if rd.opt(el, "localUid") != d.req.LocalUID {
		return fail("the answer is for another localUid")
	}
	if rd.opt(el, "status") != wire.StatusSuccess {
		code := wire.CodeFileNotFound
		if items := rd.items(el); len(items) > 0 && items[0].Code == wire.CodeFileError {
			code = wire.CodeFileError
		}
		return nil, []Error{{code, "the sending system did not send the file"}}
	}
	doc := rd.child(el, "document")
	data, err := base64.StdEncoding.DecodeString(rd.opt(doc, "data"))
	if err != nil || len(data) == 0 || rd.opt(doc, "mimeType") == "" {
		return fail("the answer's document has no mimeType or no base64 data")
	}
	e.count(REMD, func(s *Stats) { s.FilesFetched++ })
	return data, nil
}

// trustOrRefuse is Config.Trust, refusing everything when there is none.
func (e *Emulator) trustOrRefuse(c *x509.Certificate) error {
	if e.trust == nil {
		return errors.New("emulator: no trust configured")
	}
	return e.trust(c)
}

// sendResult sends the signed registerDocumentResult to the document's
// ReplyTo and checks the sender's signed answer. It reports whether it was
// delivered.
func (e *Emulator) sendResult(ctx context.Context, d *remdDoc, errs []Error) bool {
	e.mu.Lock()
	emdrID, at := d.emdrID, d.at
	e.mu.Unlock()
	el := newElement(wire.NamespaceCallback, wire.ElemCallback).text("relatesToMessage", d.messageID)
	if len(errs) == 0 {
		el.text("status", wire.StatusSuccess)
	} else {
		el.text("status", wire.StatusError)
	}
	el.text("localUid", d.req.LocalUID).text("kind", d.req.Kind).text("organization", d.req.Organization)
	if len(errs) == 0 {
		el.open("registryItem").text("emdrId", emdrID).text("registrationDateTime", at.Format(time.RFC3339)).close("registryItem")
	}
	body := el.errors(errs).end(wire.ElemCallback)
	status, ans, msgID, err := e.call(ctx, d.replyTo, 1<<16, func(id string) ([]byte, error) {
		return signMessage(ctx, e.signer, wssec.SOAP12, wssec.Addressing{
			Action: wire.ActionCallback, MessageID: id, To: d.replyTo, RelatesTo: d.messageID,
		}, body)
	})
	if err != nil || status >= 300 {
		e.log.Warn("РЭМД result not delivered", "status", status, "error", err)
		return false
	}
	bad := checkResultAnswer(e, ans, msgID)
	if bad != nil {
		e.log.Warn("the sender's answer to a РЭМД result is not right", "error", bad)
	}
	e.count(REMD, func(s *Stats) {
		s.Callbacks++
		if bad != nil {
			s.BadAnswers++
		}
	})
	return true
}

// checkResultAnswer checks the sender's answer to a result: signed by a
// trusted certificate, relating to the result's MessageID, and
// sendRegisterDocumentResultResponse{status=success}.
func checkResultAnswer(e *Emulator, ans []byte, msgID string) error {
	v, err := wssec.Verify(ans, wssec.VerifyOptions{TrustCertificate: e.trustOrRefuse, MustHave: []wssec.Part{wssec.PartRelatesTo}, Now: e.now()})
	if err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	if v.Addressing.RelatesTo != msgID {
		return fmt.Errorf("answer relates to another message: %w", ErrMalformedMessage)
	}
	el, err := bodyElement(v)
	if err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	if !el.Is(wire.NamespaceCallback, wire.ElemCallbackAnswer) {
		return fmt.Errorf("answer is {%s}%s, want %s: %w", el.Space, el.Local, wire.ElemCallbackAnswer, ErrMalformedMessage)
	}
	rd := &reader{ns: wire.NamespaceCallback}
	if s := rd.opt(el, "status"); s != wire.StatusSuccess {
		return fmt.Errorf("answer status %q: %w", s, ErrMalformedMessage)
	}
	return nil
}

// searchRegistryItem finds registered documents by localUid,
// organization and kind; zero matches means not registered.
func (e *Emulator) searchRegistryItem(w http.ResponseWriter, r *http.Request, v *wssec.Verified, el *xmldsig.Element) {
	rd := &reader{ns: wire.NamespaceService}
	uid, org, kind := rd.opt(el, "localUid"), rd.opt(el, "organization"), rd.opt(el, "kind")
	out := newElement(wire.NamespaceService, wire.ElemSearchResponse).text("status", wire.StatusSuccess).open("matches")
	e.mu.Lock()
	candidates := e.docs
	if uid != "" {
		// The gateway's reconciliation names the document: one lookup,
		// not a scan of every registration.
		candidates = map[string]*remdDoc{}
		if d, ok := e.docs[uid]; ok {
			candidates[uid] = d
		}
	}
	for _, d := range candidates {
		if d.state != stateRegistered ||
			(org != "" && d.req.Organization != org) || (kind != "" && d.req.Kind != kind) {
			continue
		}
		out.open("item").text("localUid", d.req.LocalUID).text("emdrId", d.emdrID).
			text("registrationDateTime", d.at.Format(time.RFC3339)).close("item")
	}
	e.mu.Unlock()
	e.answer(r.Context(), w, v, out.close("matches").end(wire.ElemSearchResponse))
}

// getRegistryItem answers one registration by its emdrId.
func (e *Emulator) getRegistryItem(w http.ResponseWriter, r *http.Request, v *wssec.Verified, el *xmldsig.Element) {
	rd := &reader{ns: wire.NamespaceService}
	id := rd.opt(el, "emdrId")
	e.mu.Lock()
	d, ok := e.byEMDR[id]
	var at time.Time
	if ok {
		at = d.at
	}
	e.mu.Unlock()
	if !ok {
		writeFault(w, http.StatusBadRequest, v.Version, faultSender, "no such registry item", []Error{{codeObjectNotFound, "Объект не найден"}})
		return
	}
	e.answer(r.Context(), w, v, newElement(wire.NamespaceService, wire.ElemGetItemResponse).text("emdrId", id).
		text("registrationDateTime", at.Format(time.RFC3339)).text("storeTillDate", at.AddDate(storeYears, 0, 0).Format(time.DateOnly)).
		end(wire.ElemGetItemResponse))
}
