// Package remd speaks РЭМД's protocol through ИПС (domain/PROTOCOLS.md §1,
// §2): the signed SOAP registerDocument and its synchronous answer, the
// lookups (searchRegistryItem, getRegistryItem), and the messages РЭМД
// sends back to the gateway's callback listener (getDocumentFile and the
// sendRegisterDocumentResult callback), with the gateway's answers.
//
// The official WSDL/XSD of РЭМД is not public. This file is the one place
// that holds every name and choice of the wire format, each with where it
// comes from; what the public record does not give is marked GUESS, so a
// change to the official schema is a change of one line here. The names of
// the fields inside registerDocument's and the lookups' bodies are the xml
// tags of their message types (RegisterDocumentRequest and the types it
// holds, RegisterDocumentResponse, ErrorItem, SearchRegistryItemRequest,
// SearchRegistryItemResponse, RegistryItem, GetRegistryItemResponse), one
// tag per name, sources on each type.
package remd

import (
	"hash/crc32"
	"strconv"
)

// Namespaces (PROTOCOLS.md §1, §2).
const (
	// NamespaceTransport is ИПС's transport header namespace
	// (egisz:transportHeader/authInfo/clientEntityId) [R; KT; IS; PX1].
	NamespaceTransport = "http://egisz.rosminzdrav.ru"
	// NamespaceService is РЭМД's service namespace: registerDocument, the
	// lookups and their answers [A; EM].
	NamespaceService = "http://egisz.rosminzdrav.ru/iehr/emdr/service/"
	// NamespaceCallback is the namespace of what РЭМД sends to the MIS:
	// sendRegisterDocumentResult, getDocumentFile, and their answers [A; EM].
	// GUESS for getDocumentFile: that it shares the callback namespace.
	NamespaceCallback = "http://egisz.rosminzdrav.ru/iehr/emdr/callback/"
)

// WS-Addressing Actions. The callback's Action is the bare operation name
// [PROTOCOLS.md §0.3, A: README «Связывание сообщений»]; GUESS: the other
// operations are named the same way.
const (
	ActionRegisterDocument   = "registerDocument"
	ActionSearchRegistryItem = "searchRegistryItem"
	ActionGetRegistryItem    = "getRegistryItem"
	ActionCallback           = "sendRegisterDocumentResult"
	ActionGetDocumentFile    = "getDocumentFile"
)

// Body element names. Requests and answers of registerDocument and the
// lookups are in NamespaceService; the callback, the file request and the
// gateway's answers to them in NamespaceCallback.
const (
	// ElemRegisterRequest is registerDocument's body [A: db/02_functions.sql;
	// M1; KT2], fields in the order of PROTOCOLS.md §2.2's skeleton:
	// localUid, kind, documentNumber?, creationDateTime, organization,
	// department?, patient, personalSignatures, orgSignature?, associations?.
	ElemRegisterRequest = "registerDocumentRequest"
	// ElemRegisterResponse is its synchronous answer: status (success means
	// accepted only) and, GUESS, errors/item{code, message} as in the
	// callback, since the synchronous error shape is NOT FOUND [§8].
	ElemRegisterResponse = "registerDocumentResponse"

	// ElemSearchRequest: organization, kind, registerDateBegin,
	// registerDateEnd, patientSnils [R]; GUESS: localUid narrows it.
	ElemSearchRequest = "searchRegistryItemRequest"
	// ElemSearchResponse: status, matches/item{localUid,
	// registrationDateTime} [R]; GUESS: each item carries its emdrId.
	ElemSearchResponse = "searchRegistryItemResponse"
	// ElemGetItemRequest: emdrId [M2].
	ElemGetItemRequest = "getRegistryItemRequest"
	// ElemGetItemResponse: emdrId, registrationDateTime, storeTillDate [M2].
	ElemGetItemResponse = "getRegistryItemResponse"

	// ElemCallback is sendRegisterDocumentResult's body: relatesToMessage,
	// status (success|error), localUid?, kind?, organization?,
	// registryItem?{emdrId, registrationDateTime}, errors?{item+{code,
	// message}} [EM: tests/test_parser*.py; A].
	ElemCallback = "registerDocumentResult"
	// ElemCallbackAnswer is the gateway's answer to the callback. NOT FOUND
	// [§2.3]; GUESS after ФРМО's signed status answer [MO]: one status
	// element, "success".
	ElemCallbackAnswer = "sendRegisterDocumentResultResponse"

	// ElemFileRequest is РЭМД's getDocumentFile body: localUid [A: README
	// steps 4–5]; the request's own wsa:MessageID is the messageID the
	// НСИ 305 text WRONG_MESSAGE_ID names. GUESS: element name.
	ElemFileRequest = "getDocumentFileRequest"
	// ElemFileResponse is the gateway's answer [A: 03_transform.sql names
	// getDocumentFileResponse]: localUid, document{mimeType, data (base64)}.
	// GUESS: the file inline in base64, not MTOM (NOT FOUND, §8).
	ElemFileResponse = "getDocumentFileResponse"
)

// Status values of answers and callbacks [EM; R].
const (
	StatusSuccess = "success"
	StatusError   = "error"
)

// Codes the gateway answers a file request with when it cannot give the
// file, as РЭМД's НСИ 305 names the failure it then reports [A]. GUESS:
// that the MIS's answer carries them in errors/item like РЭМД's own.
const (
	// CodeFileNotFound: the gateway does not hold the document asked for.
	CodeFileNotFound = "FILE_WAS_NOT_SENT"
	// CodeFileError: the gateway holds it but cannot read it now.
	CodeFileError = "GET_DOCUMENT_FILE_ERROR"
)

// FileAnswerSync says how getDocumentFile is answered: true, in the HTTP
// response to РЭМД's request. The WRONG_MESSAGE_ID text («Асинхронный
// запрос файла ЭМД с указанным messageID не найден») hints that РЭМД also
// takes the file later against the request's messageID, but that
// operation's name is NOT FOUND [§2.1]; the synchronous answer needs no
// guess of it. This constant is the one place the choice is made.
const FileAnswerSync = true

// ИПС's transport header, unsigned, first in soap:Header:
// egisz:transportHeader/egisz:authInfo/egisz:clientEntityId, the
// information system's GUID [R; KT; IS; PX1] (PROTOCOLS.md §1).
const (
	ElemTransportHeader = "transportHeader"
	ElemAuthInfo        = "authInfo"
	ElemClientEntityID  = "clientEntityId"
)

// SOAP 1.1 sends the Action in this HTTP header as well; SOAP 1.2 puts it
// in the Content-Type's action parameter (RFC 3902) [SOAP 1.1 §6.1.1;
// SOAP 1.2 part 2 §7.1.4]. The value is the Action, quoted.
const HeaderSOAPAction = "SOAPAction"

// Patient gender codes of НСИ 1.2.643.5.1.13.13.11.1040 (пол пациента):
// 1 male, 2 female [contract31; M1]. GUESS: sent as the bare code, no
// version attribute.
const (
	GenderMale   = "1"
	GenderFemale = "2"
)

// Signer roles. The public record shows role as a coded value with an НСИ
// version [KT2: {"$": Role, "@version": "2.4"}] but neither the code
// system nor its values. GUESS: the gateway's own role names (doctor,
// head) as the code, no version, until the official XSD names them.
const (
	RoleDoctor = "doctor"
	RoleHead   = "head"
	// RoleOrganization is the organisation's signature: it goes to
	// orgSignature, not personalSignatures [KT2 OrgSignature].
	RoleOrganization = "organization"
)

// Checksum is the signature's checksum element: the decimal CRC-32 (IEEE)
// of the signature's DER bytes. GUESS: the algorithm is NOT FOUND [§2.2,
// §8]; the regional mirror gets an integer from a service of its own
// [KT2], and CRC-32 is the guess the contract makes (contract31).
func Checksum(der []byte) string {
	return strconv.FormatUint(uint64(crc32.ChecksumIEEE(der)), 10)
}

// WS-Addressing Actions of the gateway's answers to what РЭМД sends it.
// NOT FOUND [§2.3, §8]; GUESS: the answer element's name, as SOAP
// toolkits name a response Action after the operation's output.
const (
	ActionCallbackAnswer = "sendRegisterDocumentResultResponse"
	ActionFileAnswer     = "getDocumentFileResponse"
)

// DefaultFileMediaType is the mimeType a getDocumentFileResponse names when
// the document store gave none: a СЭМД is a CDA XML file [PROTOCOLS.md §3].
// GUESS: that РЭМД wants the media type of the file, not of its signature.
const DefaultFileMediaType = "application/xml"
