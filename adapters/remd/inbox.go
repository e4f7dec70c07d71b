package remd

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/destination"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
	"github.com/egisz-gateway/egisz-gateway/crypto/xmldsig"
	"github.com/egisz-gateway/egisz-gateway/seam"
)

// InboxConfig configures an Inbox.
type InboxConfig struct {
	// Trust decides whether a certificate that signs an inbound message
	// is one РЭМД or ИПС signs with (chain to the configured CA, validity,
	// usage). Which CA that is, is not public: it is configuration.
	// Required.
	Trust func(*x509.Certificate) error
	// Signer signs the gateway's answers. Required.
	Signer signer.Signer
	// Now is the clock (default time.Now).
	Now func() time.Time
	// ClockSkew is tolerated on an inbound Timestamp both ways, and added
	// to how long a message is remembered against replays (default 1 minute).
	ClockSkew time.Duration
	// ReplayCapacity bounds the messages remembered against replays
	// (default DefaultReplayCapacity).
	ReplayCapacity int
	// AnswerTTL is how long the gateway's signed answers are valid
	// (default 5 minutes).
	AnswerTTL time.Duration
}

// ErrInboxConfig marks an InboxConfig that cannot make an Inbox.
var ErrInboxConfig = errors.New("remd: bad inbox configuration")

// Inbox takes what РЭМД sends to the gateway's callback listener (the
// sendRegisterDocumentResult callback and the getDocumentFile request):
// it authenticates each message (WS-Security signature by a trusted
// certificate, fresh, not seen before), reads it into a seam.Inbound, and
// builds the gateway's signed answer. It is safe for concurrent use.
type Inbox struct {
	trust     func(*x509.Certificate) error
	signer    signer.Signer
	now       func() time.Time
	skew      time.Duration
	answerTTL time.Duration
	results   destination.Classifier
	seen      *replayCache
}

// NewInbox returns an Inbox of cfg.
func NewInbox(cfg InboxConfig) (*Inbox, error) {
	if cfg.Trust == nil {
		return nil, fmt.Errorf("new inbox: no Trust check: %w", ErrInboxConfig)
	}
	if cfg.Signer == nil || cfg.Signer.Certificate() == nil {
		return nil, fmt.Errorf("new inbox: no Signer with a certificate for the answers: %w", ErrInboxConfig)
	}
	if cfg.ClockSkew < 0 || cfg.ReplayCapacity < 0 || cfg.AnswerTTL < 0 {
		return nil, fmt.Errorf("new inbox: negative skew, capacity or TTL: %w", ErrInboxConfig)
	}
	in := &Inbox{
		trust: cfg.Trust, signer: cfg.Signer, now: cfg.Now, skew: cfg.ClockSkew, answerTTL: cfg.AnswerTTL,
		results: destination.NewClassifier(),
	}
	if in.now == nil {
		in.now = time.Now
	}
	if in.skew == 0 {
		in.skew = time.Minute
	}
	if in.answerTTL == 0 {
		in.answerTTL = 5 * time.Minute
	}
	capacity := cfg.ReplayCapacity
	if capacity == 0 {
		capacity = DefaultReplayCapacity
	}
	in.seen = newReplayCache(capacity)
	return in, nil
}

// Inbound authenticates and reads one message РЭМД sent to the callback
// listener (its size already bounded by the caller). The Body, the
// Timestamp, Action and MessageID must be present and signed by a
// certificate Trust accepts, the Timestamp fresh, and the message not one
// taken before; SOAP 1.1 (text/xml) and 1.2 (application/soap+xml) are
// both read. A message that fails any of that returns an error wrapping
// seam.ErrUnauthenticated, an authentic one the gateway cannot act on one
// wrapping ErrBadMessage; RefusalReason names which check failed. Error
// texts quote nothing of the message.
func (in *Inbox) Inbound(ctx context.Context, contentType string, body []byte) (seam.Inbound, error) {
	if err := ctx.Err(); err != nil {
		return seam.Inbound{}, fmt.Errorf("remd inbound: %w", err)
	}
	declared, err := soapVersion(contentType)
	if err != nil {
		return seam.Inbound{}, err
	}
	now := in.now()
	v, err := wssec.Verify(body, wssec.VerifyOptions{
		TrustCertificate: in.trust,
		// The contract's four: Body and Timestamp always, Action and
		// MessageID here. Other WS-Addressing headers ИПС may leave
		// unsigned ([IS] signs To and ReplyTo but names no RelatesTo);
		// only signed ones are read (v.Addressing).
		MustSign:  []wssec.Part{wssec.PartAction, wssec.PartMessageID},
		MustHave:  []wssec.Part{wssec.PartAction, wssec.PartMessageID},
		Now:       now,
		ClockSkew: in.skew,
	})
	if err != nil {
		return seam.Inbound{}, verifyRefusal(err)
	}
	msgID := v.Addressing.MessageID
	if msgID == "" {
		// Signed but empty: nothing to answer to or to know a replay by.
		return seam.Inbound{}, badMessage("empty MessageID", nil)
	}
	// Remembered before it is read: a copy is a replay whatever it holds.
	if !in.seen.take(msgID, v.Timestamp, in.skew, v.Version, now) {
		return seam.Inbound{}, unauthenticated(ReasonReplayed, "MessageID and Timestamp taken before", nil)
	}
	if v.Version != declared {
		return seam.Inbound{}, badMessage(fmt.Sprintf("Content-Type says %v, the envelope is %v", declared, v.Version), nil)
	}
	op, err := operation(v.Body)
	if err != nil {
		return seam.Inbound{}, err
	}
	switch v.Addressing.Action {
	case ActionCallback:
		if !op.Is(NamespaceCallback, ElemCallback) {
			return seam.Inbound{}, badMessage("Action "+ActionCallback+" without a "+ElemCallback+" body", nil)
		}
		res, err := in.readResult(op, v.Addressing.RelatesTo)
		if err != nil {
			return seam.Inbound{}, err
		}
		return seam.Inbound{Kind: seam.InboundResult, MessageID: msgID, Result: res}, nil
	case ActionGetDocumentFile:
		if !op.Is(NamespaceCallback, ElemFileRequest) {
			return seam.Inbound{}, badMessage("Action "+ActionGetDocumentFile+" without a "+ElemFileRequest+" body", nil)
		}
		uid, err := readFileRequest(op)
		if err != nil {
			return seam.Inbound{}, err
		}
		return seam.Inbound{Kind: seam.InboundFileRequest, MessageID: msgID, LocalUID: uid}, nil
	}
	return seam.Inbound{}, badMessage("unknown Action", nil)
}

// soapVersion reads the SOAP version a Content-Type declares.
func soapVersion(contentType string) (wssec.Version, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0, badMessage("Content-Type unreadable", nil)
	}
	switch mt {
	case "text/xml":
		return wssec.SOAP11, nil
	case "application/soap+xml":
		return wssec.SOAP12, nil
	}
	return 0, badMessage("Content-Type is not SOAP", nil)
}

// operation returns the one element of a verified Body.
func operation(body *xmldsig.Element) (*xmldsig.Element, error) {
	ops := body.Elements()
	if len(ops) != 1 {
		return nil, badMessage(fmt.Sprintf("Body holds %d elements, want 1", len(ops)), nil)
	}
	return ops[0], nil
}

// readResult reads a registerDocumentResult into the callback's result.
// relatesTo is the signed wsa:RelatesTo header, the call's MessageID when
// the body does not name it.
func (in *Inbox) readResult(op *xmldsig.Element, relatesTo string) (seam.CallbackResult, error) {
	var res seam.CallbackResult
	rel, err := text(op, "relatesToMessage", false)
	if err != nil {
		return res, err
	}
	if rel == "" {
		// [EM] has seen it as an attribute of the result.
		if a, ok := attr(op, "relatesToMessage"); ok {
			rel = strings.TrimSpace(a)
		}
	}
	if rel == "" {
		rel = relatesTo
	}
	if rel == "" {
		return res, badMessage("result names no relatesToMessage", nil)
	}
	status, err := text(op, "status", true)
	if err != nil {
		return res, err
	}
	res.MessageID = rel
	var emdrID string
	if item, err := child(op, "registryItem", false); err != nil {
		return res, err
	} else if item != nil {
		if emdrID, err = text(item, "emdrId", false); err != nil {
			return res, err
		}
	}
	if status == StatusSuccess && emdrID != "" {
		res.Registered, res.RegistryID = true, emdrID
		return res, nil
	}
	errs, err := errorItems(op)
	if err != nil {
		return res, err
	}
	res.Reasons, res.Retry = in.results.ResultReasons(status, errs)
	return res, nil
}

// errorItems reads errors/item{code, message}, if any.
func errorItems(op *xmldsig.Element) ([]destination.RegistryError, error) {
	list, err := child(op, "errors", false)
	if err != nil || list == nil {
		return nil, err
	}
	var out []destination.RegistryError
	for _, item := range children(list, "item") {
		code, err := text(item, "code", true)
		if err != nil {
			return nil, err
		}
		msg, err := text(item, "message", false)
		if err != nil {
			return nil, err
		}
		out = append(out, destination.RegistryError{Code: code, Message: msg})
	}
	return out, nil
}

// maxLocalUID bounds the localUid a file request may name: an RFC 4122
// UUID is 36 characters [V]; some room for other id forms.
const maxLocalUID = 128

// readFileRequest reads a getDocumentFileRequest's localUid.
func readFileRequest(op *xmldsig.Element) (string, error) {
	uid, err := text(op, "localUid", true)
	if err != nil {
		return "", err
	}
	if len(uid) > maxLocalUID {
		return "", badMessage("localUid too long", nil)
	}
	for _, r := range uid {
		if r < 0x20 || r == 0x7f {
			return "", badMessage("localUid holds control characters", nil)
		}
	}
	return uid, nil
}

// children returns op's child elements named local, in op's namespace or
// unqualified: a schema with elementFormDefault="unqualified" (JAX-WS's
// default) writes the fields without a namespace.
func children(op *xmldsig.Element, local string) []*xmldsig.Element {
	var out []*xmldsig.Element
	for _, c := range op.Elements() {
		if c.Local == local && (c.Space == op.Space || c.Space == "") {
			out = append(out, c)
		}
	}
	return out
}

// child returns the one child element named local, nil when it is absent
// and not required.
func child(op *xmldsig.Element, local string, required bool) (*xmldsig.Element, error) {
	cs := children(op, local)
	switch {
	case len(cs) > 1:
		return nil, badMessage(op.Local+"/"+local+" repeated", nil)
	case len(cs) == 0 && required:
		return nil, badMessage(op.Local+"/"+local+" missing", nil)
	case len(cs) == 0:
		return nil, nil
	}
	return cs[0], nil
}

// text returns the trimmed text of the one child named local ("" when it
// is absent and not required; a required one must not be empty).
func text(op *xmldsig.Element, local string, required bool) (string, error) {
	c, err := child(op, local, required)
	if err != nil || c == nil {
		return "", err
	}
	if len(c.Elements()) > 0 {
		return "", badMessage(op.Local+"/"+local+" is not text", nil)
	}
	s := strings.TrimSpace(c.Text())
	if s == "" && required {
		return "", badMessage(op.Local+"/"+local+" empty", nil)
	}
	return s, nil
}

// attr returns the attribute named local of op, unqualified or in op's
// namespace.
func attr(op *xmldsig.Element, local string) (string, bool) {
	if v, ok := op.AttrValue("", local); ok {
		return v, true
	}
	return op.AttrValue(op.Space, local)
}

// Release forgets m: the runtime did not act on it (it answered 503, send
// again), so the registry's re-send of the very same signed message is
// taken rather than refused as a replay. Only messages the runtime acted
// on stay remembered.
func (in *Inbox) Release(m seam.Inbound) {
	if m.MessageID != "" {
		in.seen.forget(m.MessageID)
	}
}

// Answer builds the gateway's signed answer to an inbound message in the
// SOAP version it came in: to a result callback,
// sendRegisterDocumentResultResponse{status=success}; to a file request,
// getDocumentFileResponse with the file (document{mimeType, data}) or,
// when f does not hold it, status=error with CodeFileNotFound (HTTP 200
// either way, as РЭМД reads an MIS's answer). It relates to the message
// (wsa:RelatesTo) and carries a fresh MessageID. When the answer cannot be
// signed it is an unsigned SOAP Receiver fault with HTTP 500: РЭМД then
// asks again.
func (in *Inbox) Answer(ctx context.Context, m seam.Inbound, f seam.File) seam.Answer {
	version, ok := in.seen.version(m.MessageID)
	if !ok {
		// Forgotten (more messages than the cache holds came since):
		// РЭМД's own operations are SOAP 1.2 [R].
		version = wssec.SOAP12
	}
	var (
		action string
		body   *xmldsig.Element
	)
	switch m.Kind {
	case seam.InboundResult:
		action = ActionCallbackAnswer
		body = newOp(ElemCallbackAnswer)
		addText(body, "status", StatusSuccess)
	case seam.InboundFileRequest:
		action = ActionFileAnswer
		body = fileAnswer(m, f)
	default:
		return fault(version, http.StatusInternalServerError, "unknown inbound message kind")
	}
	id, err := newMessageID()
	if err != nil {
		return fault(version, http.StatusInternalServerError, "cannot make a MessageID")
	}
	// Canonical form: the element alone, no XML declaration, every
	// namespace it uses declared on it, as wssec.Envelope wants a body.
	xml, err := xmldsig.Canonicalize(body, nil)
	if err != nil {
		return fault(version, http.StatusInternalServerError, "cannot write the answer")
	}
	signed, err := wssec.Sign(ctx, in.signer, wssec.Envelope{
		Version:    version,
		Addressing: wssec.Addressing{Action: action, MessageID: id, RelatesTo: m.MessageID},
		Body:       xml,
	}, wssec.SignOptions{Now: in.now(), TTL: in.answerTTL})
	if err != nil {
		return fault(version, http.StatusInternalServerError, "cannot sign the answer")
	}
	return seam.Answer{Status: http.StatusOK, ContentType: version.ContentType(), Body: signed}
}

// fileAnswer is the getDocumentFileResponse for request m and what the
// store found. A file found under another localUid, or empty, is not
// given: it would be a wrong file registered under this one.
func fileAnswer(m seam.Inbound, f seam.File) *xmldsig.Element {
	op := newOp(ElemFileResponse)
	addText(op, "localUid", m.LocalUID)
	code := ""
	switch {
	case !f.Found:
		code = CodeFileNotFound
	case f.LocalUID != m.LocalUID || len(f.Data) == 0:
		code = CodeFileError
	}
	if code != "" {
		addText(op, "status", StatusError)
		errs := addChild(op, "errors")
		item := addChild(errs, "item")
		addText(item, "code", code)
		addText(item, "message", fileErrorText[code])
		return op
	}
	addText(op, "status", StatusSuccess)
	doc := addChild(op, "document")
	mt := f.MediaType
	if mt == "" {
		mt = DefaultFileMediaType
	}
	addText(doc, "mimeType", mt)
	addText(doc, "data", base64.StdEncoding.EncodeToString(f.Data))
	return op
}

// fileErrorText is the message of each file error code: НСИ 305's text
// for the failure РЭМД then reports [A].
var fileErrorText = map[string]string{
	CodeFileNotFound: "Файл ЭМД не был передан: документ не найден в предоставляющей системе",
	CodeFileError:    "Ошибка получения файла ЭМД из предоставляющей системы",
}

// callbackPrefix is the prefix the gateway's answers write
// NamespaceCallback with.
const callbackPrefix = "cb"

func newOp(local string) *xmldsig.Element {
	e := xmldsig.NewElement(NamespaceCallback, callbackPrefix, local)
	e.DeclareNS(callbackPrefix, NamespaceCallback)
	return e
}

func addChild(parent *xmldsig.Element, local string) *xmldsig.Element {
	e := xmldsig.NewElement(parent.Space, parent.Prefix, local)
	parent.AppendChild(e)
	return e
}

func addText(parent *xmldsig.Element, local, value string) {
	addChild(parent, local).SetText(value)
}

// newMessageID returns a fresh urn:uuid (RFC 9562 version 4).
func newMessageID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new message id: %w", err)
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// fault is an unsigned SOAP Receiver fault saying reason (fixed words of
// the gateway's, nothing of the message).
func fault(v wssec.Version, status int, reason string) seam.Answer {
	ns := v.Namespace()
	env := xmldsig.NewElement(ns, "soap", "Envelope")
	env.DeclareNS("soap", ns)
	body := xmldsig.NewElement(ns, "soap", "Body")
	env.AppendChild(body)
	f := xmldsig.NewElement(ns, "soap", "Fault")
	body.AppendChild(f)
	if v == wssec.SOAP12 {
		code := xmldsig.NewElement(ns, "soap", "Code")
		val := xmldsig.NewElement(ns, "soap", "Value")
		val.SetText("soap:Receiver")
		code.AppendChild(val)
		f.AppendChild(code)
		rs := xmldsig.NewElement(ns, "soap", "Reason")
		t := xmldsig.NewElement(ns, "soap", "Text")
		t.SetAttr(xmldsig.XMLNamespace, "xml", "lang", "en")
		t.SetText(reason)
		rs.AppendChild(t)
		f.AppendChild(rs)
	} else {
		code := xmldsig.NewElement("", "", "faultcode")
		code.SetText("soap:Server")
		f.AppendChild(code)
		s := xmldsig.NewElement("", "", "faultstring")
		s.SetText(reason)
		f.AppendChild(s)
	}
	return seam.Answer{Status: status, ContentType: v.ContentType(), Body: xmldsig.Serialize(env)}
}
