// Package reasons is the reason catalog: every reason the gateway can give
// for rejecting, parking or retrying an event, its own checks and the
// registries' codes alike (shared/domain/EGISZ.md §4), each with who must
// act, whether a retry can help, and the text an operator reads, in
// Russian with English beside it.
package reasons

import (
	"sort"
	"strings"
)

// Owner is who must act on a reason.
type Owner string

// The owners of reasons.
const (
	Clinic     Owner = "clinic"     // the medical organization: data, staff, certificates
	MIS        Owner = "mis"        // the sending information system
	Integrator Owner = "integrator" // whoever connects the MIS to ЕГИСЗ (registration, configuration)
	Registry   Owner = "registry"   // the federal registry itself
	Gateway    Owner = "gateway"    // this gateway's operators
)

// Action is what the forward stage does with a failure of this reason.
type Action string

// The actions.
const (
	Park      Action = "park"      // permanent: to the DLQ at once
	Retry     Action = "retry"     // transient: retry with backoff, then retry tiers
	Reconcile Action = "reconcile" // "already there": look up the registry's record, count as success
)

// Reason is one row of the catalog.
type Reason struct {
	Code   string
	Owner  Owner
	Action Action
	RU     string
	EN     string
}

// Retryable reports whether retrying can help.
func (r Reason) Retryable() bool { return r.Action == Retry }

// Codes of the gateway's own checks.
const (
	DecodeNotJSON       = "DECODE_NOT_JSON"
	DecodeInvalidUTF8   = "DECODE_INVALID_UTF8"
	TextUnrepresentable = "TEXT_UNREPRESENTABLE"
	DecodeTooLarge      = "DECODE_TOO_LARGE"
	DecodeTooDeep       = "DECODE_TOO_DEEP"
	DecodeWrongType     = "DECODE_WRONG_TYPE"
	DecodeNotObject     = "DECODE_NOT_OBJECT"
	HeaderMissing       = "HEADER_MISSING"
	HeaderTypeMismatch  = "HEADER_TYPE_MISMATCH"
	HeaderInvalid       = "HEADER_INVALID"
	DecodeNotBase64     = "DECODE_NOT_BASE64"
	FieldRequired       = "FIELD_REQUIRED"
	FieldEnum           = "FIELD_ENUM"
	FieldInvalid        = "FIELD_INVALID"
	SNILSFormat         = "SNILS_FORMAT"
	SNILSChecksum       = "SNILS_CHECKSUM"
	ENPFormat           = "ENP_FORMAT"
	ENPChecksum         = "ENP_CHECKSUM"
	PatientIDMissing    = "PATIENT_ID_MISSING"
	OIDFormat           = "OID_FORMAT"
	MOOIDFormat         = "MO_OID_FORMAT"
	LocalIDKind         = "LOCAL_ID_KIND"
	DocumentIDIsSetID   = "DOCUMENT_ID_EQUALS_SET_ID"
	UUIDFormat          = "UUID_FORMAT"
	ICD10Format         = "ICD10_FORMAT"
	MainDiagnosis       = "MAIN_DIAGNOSIS_COUNT"
	DateFormat          = "DATE_FORMAT"
	DateTimeFormat      = "DATETIME_FORMAT"
	DateOrder           = "DATE_ORDER"
	DateInFuture        = "DATE_IN_FUTURE"
	QuantityInvalid     = "QUANTITY_INVALID"
	FileMissing         = "FILE_MISSING"
	FileTooLarge        = "FILE_TOO_LARGE"
	FileHashMismatch    = "FILE_HASH_MISMATCH"
	SignerMissing       = "SIGNER_MISSING"
	CertPeriodInvalid   = "CERT_PERIOD_INVALID"
	SignedOutsideCert   = "SIGNED_OUTSIDE_CERT_VALIDITY"
	LabValueNotNumeric  = "LAB_VALUE_NOT_NUMERIC"
	LabUnitMissing      = "LAB_UNIT_MISSING"
	DoctorNotInFRMR     = "DOCTOR_NOT_IN_FRMR"
	DoctorPostMismatch  = "DOCTOR_POST_MISMATCH"
	CertNotInFRMR       = "CERT_NOT_IN_FRMR"
	SignerNameMismatch  = "SIGNER_NAME_MISMATCH"
	MONotInFRMO         = "MO_NOT_IN_FRMO"
	MOInactive          = "MO_INACTIVE_ON_DATE"
	IdentityMismatch    = "PATIENT_IDENTITY_MISMATCH"
	ConsentRevoked      = "CONSENT_REVOKED"
	ConsentMissing      = "CONSENT_MISSING"
	DedupConflict       = "DEDUP_CONFLICT"
	KeyMismatch         = "KEY_MISMATCH"
	CrossPatient        = "CROSS_PATIENT_DUPLICATE"
	UnknownTopic        = "UNKNOWN_TOPIC"
	RxUnknown           = "RX_UNKNOWN"
	RxCancelled         = "RX_CANCELLED"
	RxExpired           = "RX_EXPIRED"
	RxQuantityExceeded  = "RX_QUANTITY_EXCEEDED"
	RxAlreadyDispensed  = "RX_ALREADY_DISPENSED"
	RxPatientMismatch   = "RX_PATIENT_MISMATCH"
	RxUnitMismatch      = "RX_UNIT_MISMATCH"
	TransportError      = "TRANSPORT_ERROR"
	HTTPServerError     = "HTTP_5XX"
	HTTPTooManyRequests = "HTTP_429"
	HTTPUnauthorized    = "HTTP_AUTH"
	HTTPClientError     = "HTTP_4XX"
	RetriesExhausted    = "RETRIES_EXHAUSTED"
	ForwardUnbuildable  = "FORWARD_UNBUILDABLE"
	CallbackMissing     = "CALLBACK_MISSING"
	RegistryUnknownCode = "REGISTRY_UNKNOWN_CODE"
	ReplayFailed        = "REPLAY_FAILED"
	OutputTooLarge      = "OUTPUT_TOO_LARGE"
	OutputRefused       = "OUTPUT_REFUSED"
	HopUnreadable       = "HOP_UNREADABLE"
)

// Codes of the checks of a signed СЭМД: its CDA against the request and
// its detached CMS signatures (issue 30). Where РЭМД has a code for the
// same fault (НСИ 305, PROTOCOLS.md §2.4 and §4) the value is РЭМД's, so
// that an operator sees one name whether the gateway or РЭМД found it; the
// Go names say what each is in the gateway's words.
const (
	// The file itself.
	DocumentNotXML         = "DOCUMENT_NOT_XML"
	DocumentDTDForbidden   = "DOCUMENT_DTD_FORBIDDEN"
	DocumentKindMismatch   = "DOCUMENT_KIND_MISMATCH"
	DocumentHeaderMismatch = "DOCUMENT_HEADER_MISMATCH"
	DocumentTooLarge       = "DOCUMENT_TOO_LARGE"
	DocumentFetchFailed    = "DOCUMENT_FETCH_FAILED"
	DocumentDigestMismatch = "DOCUMENT_DIGEST_MISMATCH"
	// DocumentCheckIncomplete is a document whose checks did not finish
	// in their time: neither accepted nor refused, retried.
	DocumentCheckIncomplete = "DOCUMENT_CHECK_INCOMPLETE"
	// DocumentInvalid is a CDA whose header lacks what РЭМД reads or has
	// it in the wrong form (РЭМД's XSD check).
	DocumentInvalid = "XML_VALIDATION_ERROR"
	// The request's signers against the CDA.
	InvalidDoctorSNILS          = "INVALID_DOCTOR_SNILS"
	InvalidDoctorID             = "INVALID_DOCTOR_ID"
	InvalidDoctorFamily         = "INVALID_DOCTOR_FAMILY"
	InvalidDoctorName           = "INVALID_DOCTOR_NAME"
	InvalidDoctorPatronymic     = "INVALID_DOCTOR_PATRONYMIC"
	InvalidDoctorPost           = "INVALID_DOCTOR_POST"
	LegalAuthenticatorNotFound  = "LEGAL_AUTHENTICATOR_NOT_FOUND"
	MetadataCertificateMismatch = "VALUE_MISMATCH_METADATA_AND_CERTIFICATE"
	// The signatures.
	SignatureMissing          = "NO_SIGNATURE"
	SignatureFormat           = "WRONG_SIGNATURE_FORMAT"
	SignatureMultipleSigners  = "MULTIPLE_SIGNERS"
	SignatureNoCertificate    = "NO_END_ENTITY_CERTIFICATE"
	SignatureInvalid          = "SIGNATURE_VERIFICATION_ERROR"
	SignatureDigestMismatch   = "SIGNATURE_DIGEST_MISMATCH"
	InconsistentDigests       = "INCONSISTENT_DIGESTS"
	SignatureTimeInvalid      = "SIGNATURE_TIME_INVALID"
	AlgorithmUnsupported      = "UNKNOWN_ALGORITHM"
	CertificateExpired        = "CERTIFICATE_EXPIRED"
	CertificateUntrusted      = "CANT_BUILD_CERT_CHAIN_TO_ACCREDITED_CA_CERT"
	CertificateKeyUsage       = "INVALID_CERT_KEY_USAGE"
	SignatureOrganizationCert = "SIGNATURE_ORGANIZATION_CERT"
)

// Codes the gateway gives at ingest under the registries' own names, so
// that an operator reads the same code whether the gateway or the registry
// found the fault: the sending system's binding to the organization.
const (
	SystemNotBound       = "NO_RMIS"
	SystemDisabled       = "DISABLED_RMIS"
	SystemRegionMismatch = "RMIS_REGION_MISMATCH"
	NoSNILS              = "NO_SNILS"
)

func r(code string, o Owner, a Action, ru, en string) Reason {
	return Reason{Code: code, Owner: o, Action: a, RU: ru, EN: en}
}

// catalog is the table. Codes ending in * are families: a registry code
// that starts with the prefix takes that row.
func catalog() []Reason {
	return []Reason{
		// Decoding.
		r(DecodeNotJSON, MIS, Park, "Сообщение не является корректным JSON", "The record value is not valid JSON"),
		r(DecodeInvalidUTF8, MIS, Park, "Сообщение содержит недопустимую последовательность UTF-8", "The record value is not valid UTF-8"),
		r(TextUnrepresentable, MIS, Park, "Текст содержит символ, который нельзя представить: половину символа (одиночный суррогат UTF-16), управляющий символ или уже потерянный символ (U+FFFD)",
			"The text holds a character that cannot be represented: half a character (a lone UTF-16 surrogate), a control character, or one already lost (U+FFFD)"),
		r(DecodeTooLarge, MIS, Park, "Сообщение превышает допустимый размер", "The record value exceeds the size limit"),
		r(DecodeTooDeep, MIS, Park, "Слишком глубокая вложенность JSON", "The JSON nesting is too deep"),
		r(DecodeWrongType, MIS, Park, "Поле имеет неверный тип", "A field has the wrong JSON type"),
		r(DecodeNotObject, MIS, Park, "Сообщение должно быть JSON-объектом", "The record value must be a JSON object"),
		r(HeaderMissing, MIS, Park, "Отсутствует обязательный заголовок CloudEvents", "A required CloudEvents header is missing"),
		r(HeaderInvalid, MIS, Park, "Недопустимое значение заголовка CloudEvents", "A CloudEvents header has a value the contract does not allow"),
		r(DecodeNotBase64, MIS, Park, "Поле должно содержать данные в кодировке base64", "A field that carries binary data is not valid base64"),
		r(HeaderTypeMismatch, MIS, Park, "Тип события (ce_type) не соответствует топику", "The event type (ce_type) does not belong on this topic"),
		// Fields and identifiers.
		r(FieldRequired, MIS, Park, "Не заполнено обязательное поле", "A required field is missing or empty"),
		r(FieldEnum, MIS, Park, "Недопустимое значение поля", "A field has a value outside its allowed set"),
		r(FieldInvalid, MIS, Park, "Некорректное значение поля", "A field's value is invalid"),
		r(SNILSFormat, MIS, Park, "Неверный формат СНИЛС", "SNILS has the wrong format"),
		r(SNILSChecksum, Clinic, Park, "Неверная контрольная сумма СНИЛС", "SNILS checksum does not match"),
		r(ENPFormat, MIS, Park, "Неверный формат ЕНП (16 цифр)", "ENP (OMS policy number) must be 16 digits"),
		r(ENPChecksum, Clinic, Park, "Неверное контрольное число ЕНП", "ENP check digit does not match"),
		r(PatientIDMissing, Clinic, Park, "Не указан ни СНИЛС, ни ЕНП, ни идентификатор пациента в МИС", "The patient has neither SNILS, ENP nor a MIS patient id"),
		r(OIDFormat, MIS, Park, "Неверный формат OID", "An OID has the wrong format"),
		r(MOOIDFormat, MIS, Park, "Неверный формат OID медицинской организации (ФРМО)", "The medical organization's OID is not an FRMO OID"),
		r(LocalIDKind, MIS, Park, "Идентификатор МИС имеет неверный суффикс OID", "A MIS-local identifier has the wrong OID suffix for its kind"),
		r(DocumentIDIsSetID, MIS, Park, "Идентификатор документа совпадает с идентификатором набора (setId)", "The document id must differ from its setId"),
		r(UUIDFormat, MIS, Park, "Идентификатор должен быть UUID (RFC 4122)", "The identifier must be an RFC 4122 UUID"),
		r(ICD10Format, MIS, Park, "Неверный формат кода МКБ-10", "The ICD-10 code has the wrong shape"),
		r(MainDiagnosis, Clinic, Park, "Должен быть указан ровно один основной диагноз", "Exactly one main diagnosis is required"),
		r(DateFormat, MIS, Park, "Неверный формат даты", "A date has the wrong format"),
		r(DateTimeFormat, MIS, Park, "Неверный формат даты и времени или нет часового пояса", "A date-time has the wrong format or no UTC offset"),
		r(DateOrder, Clinic, Park, "Даты идут в неверном порядке", "Dates are in the wrong order"),
		r(DateInFuture, Clinic, Park, "Дата в будущем", "A date lies in the future"),
		r(QuantityInvalid, Clinic, Park, "Неверное количество", "The quantity is invalid"),
		r(FileMissing, MIS, Park, "Нет подписанного файла документа: нужно вложение или ссылка", "The signed file is missing: inline data or a reference is required"),
		r(FileTooLarge, MIS, Park, "Вложенный файл слишком велик, передайте ссылку", "The inline file is too large; send a reference instead"),
		r(FileHashMismatch, MIS, Park, "Контрольная сумма или размер файла не совпадают", "The file's SHA-256 or size does not match"),
		r(SignerMissing, Clinic, Park, "Документ не подписан врачом", "The document has no author signature"),
		r(CertPeriodInvalid, Clinic, Park, "Срок действия сертификата указан неверно", "The certificate's validity period is inverted"),
		r(SignedOutsideCert, Clinic, Park, "Документ подписан вне срока действия сертификата", "The document was signed outside the certificate's validity period"),
		r(LabValueNotNumeric, MIS, Park, "Числовой результат теста не является числом", "A numeric test result is not a number"),
		r(LabUnitMissing, MIS, Park, "Для числового результата не указана единица измерения", "A numeric test result has no unit"),
		// The signed СЭМД: its CDA and its signatures. РЭМД's own codes of
		// these (NO_SIGNATURE, VALUE_MISMATCH_METADATA_AND_CERTIFICATE,
		// CANT_BUILD_CERT_CHAIN_TO_ACCREDITED_CA_CERT, …) are among РЭМД's rows below.
		r(DocumentNotXML, MIS, Park, "Файл документа не является корректным XML (UTF-8)", "The document file is not well-formed XML (UTF-8)"),
		r(DocumentDTDForbidden, MIS, Park, "Файл документа содержит DTD или объявления сущностей: они запрещены и не загружаются", "The document file holds a DTD or entity declarations: they are refused, never fetched"),
		r(DocumentKindMismatch, MIS, Park, "Код или шаблон документа (ClinicalDocument/code, templateId) не соответствуют виду документа в запросе", "The document's code or templateId does not fit the kind in the request"),
		r(DocumentHeaderMismatch, MIS, Park, "Заголовок CDA не совпадает с данными запроса (поле указано в field)", "The CDA header disagrees with the request (the field is named in field)"),
		r(DocumentTooLarge, MIS, Park, "Файл документа слишком велик", "The document file is too large"),
		r(DocumentFetchFailed, MIS, Retry, "Не удалось получить файл документа по ссылке; после исправления отправьте повторно из DLQ", "The document file could not be fetched from its reference; replay from the DLQ once it is reachable"),
		r(DocumentDigestMismatch, MIS, Park, "SHA-256 или размер полученного файла не совпадают с указанными в событии", "The fetched file's SHA-256 or size differs from the event's"),
		r(DocumentCheckIncomplete, Gateway, Retry, "Проверка файла и подписей документа не завершилась вовремя; событие будет проверено повторно", "The checks of the document's file and signatures did not finish in time; the event is checked again"),
		r(LegalAuthenticatorNotFound, Clinic, Park, "Лицо, заверившее документ (legalAuthenticator), не входит в число подписантов", "The document's legal authenticator is not among its signers"),
		r(SignatureFormat, MIS, Park, "Подпись не является откреплённой подписью CMS (SignedData)", "The signature is not a detached CMS SignedData"),
		r(SignatureMultipleSigners, MIS, Park, "В контейнере подписи больше одного подписанта", "The signature container holds more than one signer"),
		r(SignatureNoCertificate, MIS, Park, "В контейнере подписи нет сертификата подписанта", "The signer's certificate is not in the signature container"),
		r(SignatureDigestMismatch, MIS, Park, "Подпись сделана для другого файла: хэш (messageDigest) не совпадает с файлом документа", "The signature is over another file: its messageDigest does not match the document file"),
		r(InconsistentDigests, MIS, Park, "Подписи документа сделаны для разных файлов", "The document's signatures digest different files"),
		r(SignatureTimeInvalid, Clinic, Park, "Нет даты и времени подписания или подпись позже запроса", "The signing time is missing or later than the request"),
		r(AlgorithmUnsupported, Clinic, Park, "Алгоритм подписи не поддерживается", "The signature algorithm is not supported"),
		r(CertificateExpired, Clinic, Park, "Сертификат подписи не действовал на момент подписания", "The signing certificate was not valid at the signing time"),
		r(CertificateKeyUsage, Clinic, Park, "Сертификат не предназначен для электронной подписи (keyUsage)", "The certificate's key usage does not allow signing documents"),
		r(SignatureOrganizationCert, Clinic, Park, "Подпись врача оформлена на юрлицо, а не на конкретного сотрудника", "The doctor's signature was made with the organization's certificate, not a personal one"),
		// Reference checks of the normalize stage.
		r(DoctorNotInFRMR, Clinic, Park, "Врач не найден в ФРМР", "The doctor is not in FRMR"),
		r(DoctorPostMismatch, Clinic, Park, "Врач не занимает указанную должность в этой МО на эту дату (ФРМР)", "The doctor holds no such post at this organization on that date (FRMR)"),
		r(SignerNameMismatch, Clinic, Park, "ФИО подписанта не совпадает с записью ФРМР для его СНИЛС", "The signer's name differs from FRMR's record for their SNILS"),
		r(CertNotInFRMR, Clinic, Park, "Сертификат подписи не зарегистрирован за врачом в ФРМР", "The signing certificate is not registered for the doctor in FRMR"),
		r(MONotInFRMO, Integrator, Park, "Медицинская организация не найдена в ФРМО", "The medical organization is not in FRMO"),
		r(MOInactive, Clinic, Park, "Медицинская организация не действовала на эту дату (ФРМО)", "The medical organization was not active on that date (FRMO)"),
		r(IdentityMismatch, Clinic, Park, "ФИО или дата рождения пациента не совпадают с данными Госуслуг", "The patient's name or birth date disagrees with the identity bridge (ESIA)"),
		r(ConsentRevoked, Clinic, Park, "Пациент отозвал согласие на обмен данными", "The patient revoked consent to the exchange"),
		r(ConsentMissing, Clinic, Park, "Нет согласия пациента на передачу сведений в федеральные реестры: оформите информированное согласие и передайте его (событие consent_granted)", "No consent of the patient to the federal registries is on record: take the informed consent and send it (a consent_granted event)"),
		r(KeyMismatch, MIS, Park, "Ключ сообщения Kafka не совпадает с ключом пациента (нормализованный СНИЛС, enp:ЕНП или local:OID:id)", "The Kafka record key is not the patient key (normalized SNILS, enp:ENP or local:OID:id)"),
		r(CrossPatient, Clinic, Park, "Тот же случай, набор документов, рецепт или лабораторный заказ уже передан для другого пациента: пациент, вероятно, заведён дважды", "The same case, document set, prescription or lab order was already sent for another patient: the patient was likely registered twice"),
		r(UnknownTopic, Gateway, Park, "Для топика нет обработчика", "No adapter reads this topic"),
		r(DedupConflict, MIS, Park, "Повторная отправка с тем же идентификатором и другим содержанием без увеличения версии", "Same identifier re-sent with other content and no higher version"),
		r(RxUnknown, MIS, Park, "Рецепт не найден: не выписан, отклонён или выписан другому пациенту", "The prescription is unknown: never issued, rejected, or issued to another patient key"),
		r(RxCancelled, MIS, Park, "Рецепт аннулирован", "The prescription was cancelled"),
		r(RxExpired, MIS, Park, "Срок действия рецепта истёк", "The prescription has expired"),
		r(RxQuantityExceeded, MIS, Park, "Отпущено больше, чем осталось по рецепту", "More was dispensed than the prescription has left"),
		r(RxAlreadyDispensed, MIS, Park, "Рецепт уже полностью отпущен", "The prescription was already dispensed in full"),
		r(RxPatientMismatch, MIS, Park, "Пациент не совпадает с пациентом рецепта", "The patient is not the prescription's patient"),
		r(RxUnitMismatch, MIS, Park, "Единица отпуска не совпадает с единицей рецепта", "Dispensed in another unit than prescribed"),
		// Transport and the forward stage.
		r(TransportError, Registry, Retry, "Сетевая ошибка при обращении к реестру", "Network error calling the registry"),
		r(HTTPServerError, Registry, Retry, "Реестр ответил ошибкой 5xx", "The registry answered 5xx"),
		r(HTTPTooManyRequests, Registry, Retry, "Реестр ограничил частоту запросов (429)", "The registry throttled the request (429)"),
		r(HTTPUnauthorized, Integrator, Park, "Реестр отказал в доступе (401/403): проверьте сертификат и регистрацию ИС", "The registry refused access (401/403): check the certificate and the system's registration"),
		r(HTTPClientError, Gateway, Park, "Реестр отклонил запрос как некорректный (4xx)", "The registry rejected the request as malformed (4xx)"),
		r(ForwardUnbuildable, Gateway, Park, "Событие невозможно преобразовать в запрос к реестру", "The event cannot be turned into a call to the registry"),
		r(RetriesExhausted, Registry, Park, "Исчерпаны повторные попытки", "All retries are exhausted"),
		r(CallbackMissing, Registry, Park, "РЭМД не прислал результат регистрации", "РЭМД sent no registration result"),
		r(RegistryUnknownCode, Gateway, Park, "Реестр вернул неизвестный код ошибки", "The registry returned a code the catalog does not know"),
		r(ReplayFailed, Gateway, Park, "Повторная отправка из DLQ снова не удалась", "The replay from the DLQ failed again"),
		// Either stage: what the event becomes cannot be written to Kafka.
		r(OutputTooLarge, MIS, Park, "Событие слишком велико: то, во что оно превращается (с заголовками шлюза), не помещается в топик, куда должно быть записано; уменьшите значение или заголовки", "The event is too large: what it becomes (with the gateway's headers) does not fit the topic it must be written to; make its value or headers smaller"),
		r(HopUnreadable, Gateway, Park, "Внутренняя запись шлюза (переход к разделу бизнес-идентификатора) не читается; запись помещена в DLQ как есть", "A record of the gateway's own (the hop to a business id's partition) cannot be read; it is parked as it is"),
		r(OutputRefused, Gateway, Park, "Kafka отказалась записать результат обработки события (например, max.message.bytes топика на кластере меньше, чем в каталоге шлюза)", "Kafka refused to write what the event becomes (a topic's max.message.bytes on the cluster below the gateway's catalog, say)"),

		// РЭМД (NSI 1.2.643.5.1.13.13.99.2.305) and ИЭМК codes, EGISZ.md §4.
		r("PATIENT_MPI_MISMATCH", Clinic, Park, "Данные пациента не совпадают с индексом пациентов", "The patient's data disagree with the master patient index"),
		r("DUPLICATE_PATIENT_FOUND", Clinic, Park, "В индексе пациентов найдено несколько записей пациента", "Several records of the patient in the master patient index"),
		r("PATIENT_CREATION_ERROR", Clinic, Park, "Не удалось создать пациента в индексе", "The registry could not create the patient"),
		r(NoSNILS, Clinic, Park, "Для этого вида документа обязателен СНИЛС пациента", "This document kind requires the patient's SNILS"),
		r("RECEPIENT_*_MISMATCH", Clinic, Park, "Данные получателя в документе не совпадают с запросом", "The recipient's data in the document disagree with the request"),
		r("XDSUnknownPatientId", Clinic, Park, "ИЭМК: пациент не найден", "IEMK: unknown patient id"),
		r("PERSON_NOT_FOUND", Clinic, Park, "Сотрудник не найден в ФРМР", "The employee is not in FRMR"),
		r("PERSON_CARD_NOT_FOUND", Clinic, Park, "Не найдена личная карточка сотрудника в ФРМР", "The employee's FRMR card was not found"),
		r("PERSON_POST_IN_FRMR_MISMATCH", Clinic, Park, "Должность сотрудника не совпадает с ФРМР", "The employee's post disagrees with FRMR"),
		r("VALUE_MISMATCH_METADATA_AND_FRMR", Clinic, Park, "Метаданные документа не совпадают с ФРМР", "The document metadata disagree with FRMR"),
		r("POSITION_TO_ROLE_MISMATCH", Clinic, Park, "Должность не соответствует роли в документе", "The post does not fit the role in the document"),
		r("NO_SPECIALITY", Clinic, Park, "Не указана специальность", "No specialty"),
		r(InvalidDoctorSNILS, Clinic, Park, "СНИЛС подписанта в запросе не совпадает с СЭМД", "The signer's SNILS in the request disagrees with the document"),
		r("INVALID_DOCTOR_*", Clinic, Park, "Некорректные данные врача", "Invalid doctor data"),
		r("CANT_BUILD_CERT_CHAIN_TO_ACCREDITED_CA_CERT", Clinic, Park, "Не удалось построить цепочку до аккредитованного УЦ", "No chain to an accredited CA certificate"),
		r("DOC_DATE_MISMATCH_CERT_NOT_AFTER", Clinic, Park, "Дата документа позже окончания действия сертификата", "The document date is after the certificate's end"),
		r("DOC_DATE_MISMATCH_CERT_NOT_BEFORE", Clinic, Park, "Дата документа раньше начала действия сертификата", "The document date is before the certificate's start"),
		r("PERSONAL_SIG_CERT_NOT_ACTUAL_ON_DOC_CREATION_DT", Clinic, Park, "Сертификат подписи не действовал на дату создания документа", "The signing certificate was not valid when the document was created"),
		r("SIGNATURE_VERIFICATION_ERROR", Clinic, Park, "Подпись не прошла проверку", "The signature did not verify"),
		r("NO_SIGNATURE", Clinic, Park, "Нет подписи", "No signature"),
		r("ROLE_OCCURRENCE_MISMATCH", Clinic, Park, "Состав подписей не соответствует требованиям к виду документа", "The signatures do not match what the document kind requires"),
		r("ORG_SIGNATURE_OCCURRENCE_MISMATCH", Clinic, Park, "Неверное число подписей организации", "Wrong number of organization signatures"),
		r("VALUE_MISMATCH_METADATA_AND_CERTIFICATE", Clinic, Park, "Метаданные не совпадают с сертификатом", "The metadata disagree with the certificate"),
		r("DIGEST_MISMATCH", MIS, Park, "Хэш документа не совпадает с подписанным", "The document digest does not match the signed one"),
		r("CA_INACCESSIBILITY", Registry, Retry, "Недоступны OCSP и CRL удостоверяющего центра", "The CA's OCSP and CRL are unreachable"),
		r("ORG_NOT_FOUND_IN_FRMO", Integrator, Park, "Организация не найдена в ФРМО", "The organization is not in FRMO"),
		r("NO_ORG_ON_DATE", Clinic, Park, "Организация не действовала на дату документа", "The organization did not exist on the document date"),
		r("NO_DEPARTMENT", Clinic, Park, "Подразделение не найдено", "The department was not found"),
		r("SIGNER_ORG_MISMATCH", Clinic, Park, "Подписант не относится к организации", "The signer does not belong to the organization"),
		r(SystemNotBound, Integrator, Park, "Информационная система не зарегистрирована или не привязана к медицинской организации: документы от неё не дойдут", "The information system is not registered, or not bound to the medical organization: its documents would not get through"),
		r(SystemDisabled, Integrator, Park, "Информационная система отключена или ещё не действует", "The information system is disabled, or not active yet"),
		r(SystemRegionMismatch, Integrator, Park, "Регион организации не совпадает с регионом РМИС", "The organization's region differs from the RMIS region"),
		r("REGION_CODE_DIFFERENT", Clinic, Park, "Регион адреса (ФИАС) не совпадает", "The address region (FIAS) differs"),
		r("NOT_UNIQUE_PROVIDED_ID", MIS, Reconcile, "Документ с указанным идентификатором уже зарегистрирован", "A document with this id is already registered"),
		r("CAN_NOT_ASSOCIATE", MIS, Park, "Невозможно связать документы: связанный документ (emdr_id в associations) не зарегистрирован в РЭМД", "The documents cannot be linked: the linked document (associations' emdr_id) is not registered in РЭМД"),
		r("NOT_UNIQUE_ASSOCIATION", MIS, Reconcile, "Связь документов уже зарегистрирована", "The document association is already registered"),
		r("RESTRICT_NEW_VERSION", MIS, Park, "Регистрация новой версии запрещена", "A new version may not be registered"),
		r("CANT_REG_VERSION", MIS, Park, "Невозможно зарегистрировать версию документа", "The document version cannot be registered"),
		r("XDSDuplicateUniqueIdInRegistry", MIS, Reconcile, "ИЭМК: документ уже зарегистрирован", "IEMK: the document is already registered"),
		r("XDSNonIdenticalHash", MIS, Park, "ИЭМК: тот же идентификатор с другим содержимым", "IEMK: same id with other content"),
		r("XDSNonIdenticalSize", MIS, Park, "ИЭМК: тот же идентификатор с другим размером", "IEMK: same id with another size"),
		r("XDSRegistryDeprecatedDocumentError", MIS, Park, "ИЭМК: замена документа невозможна", "IEMK: the document cannot be replaced"),
		r("INVALID_DICTIONARY_VERSION", MIS, Park, "Устаревшая версия справочника НСИ", "Stale NSI reference book version"),
		r("INVALID_DICTIONARY_OID", MIS, Park, "Неверный OID справочника НСИ", "Wrong NSI reference book OID"),
		r("INVALID_ELEMENT_VALUE_CODE", MIS, Park, "Код отсутствует в справочнике НСИ", "The code is not in the NSI reference book"),
		r("INVALID_ELEMENT_VALUE_NAME", MIS, Park, "Наименование не соответствует коду НСИ", "The display name does not match the NSI code"),
		r("OBJECT_NOT_FOUND", MIS, Park, "Объект не найден", "Object not found"),
		r("VALIDATION_ERROR", MIS, Park, "Ошибка проверки структуры документа (Schematron/XSD)", "Document structure check failed (Schematron/XSD)"),
		r("XML_VALIDATION_ERROR", MIS, Park, "Документ не соответствует XSD", "The document fails XSD validation"),
		r("WRONG_CREATION_DATE", Clinic, Park, "Дата создания документа позже даты регистрации", "The creation date is after the registration date"),
		r("MIS_NOT_AVAILABLE", MIS, Retry, "РЭМД не смог получить файл из МИС: МИС недоступна", "РЭМД could not reach the MIS to fetch the file"),
		r("GET_DOCUMENT_FILE_ERROR", MIS, Retry, "Ошибка получения файла документа из МИС", "Fetching the document file from the MIS failed"),
		r("FILE_WAS_NOT_SENT", MIS, Retry, "МИС не передала файл документа", "The MIS did not send the document file"),
		r("RMIS_ERROR", MIS, Retry, "Ошибка на стороне РМИС", "Error on the RMIS side"),
		r("INTERNAL_ERROR", Registry, Retry, "Внутренняя ошибка реестра", "Internal registry error"),
		r("RUNTIME_ERROR", Registry, Retry, "Невозможно обработать запрос", "The registry could not process the request"),
		r("VALSYS_*", Registry, Retry, "Ошибка подсистемы валидации реестра", "The registry's validation subsystem failed"),
		r("ASYNC_RESPONSE_TIMEOUT", Registry, Retry, "Истекло время ожидания асинхронного ответа", "The asynchronous answer timed out"),
		r("SCHEMA_PROCESSING_ERROR", Registry, Retry, "Ошибка обработки схемы", "Schema processing failed in the registry"),
		r("RATE_LIMIT", Registry, Retry, "Превышен лимит запросов: повторить через минуту или позже", "Rate limit exceeded: retry in a minute or later"),
		r("XDSRegistryBusy", Registry, Retry, "ИЭМК: реестр занят", "IEMK: the registry is busy"),
		r("XDSRegistryNotAvailable", Registry, Retry, "ИЭМК: реестр недоступен", "IEMK: the registry is not available"),
		r("FRLLO_*", Clinic, Park, "ФРЛЛО: ошибка проверки льготного рецепта", "ФРЛЛО: the preferential prescription failed its check"),
		r("FRLLO_UNKNOWN_SYSTEM", Integrator, Park, "ФРЛЛО: информационная система не зарегистрирована", "ФРЛЛО: the sending system is not registered"),
	}
}

// Catalog is the reason catalog, indexed for lookups.
type Catalog struct {
	exact    map[string]Reason
	families []Reason // codes ending in *, longest prefix first
	all      []Reason
}

// Default returns the gateway's reason catalog.
func Default() *Catalog {
	c := &Catalog{exact: map[string]Reason{}}
	for _, r := range catalog() {
		c.all = append(c.all, r)
		if strings.Contains(r.Code, "*") {
			c.families = append(c.families, r)
			continue
		}
		c.exact[r.Code] = r
	}
	sort.Slice(c.families, func(i, j int) bool { return len(c.families[i].Code) > len(c.families[j].Code) })
	return c
}

// All returns every row in catalog order.
func (c *Catalog) All() []Reason { return append([]Reason(nil), c.all...) }

// Lookup finds a code: exactly, through the registry's spelling aliases
// (РЭМД sends RECIPIENT_* where NSI has RECEPIENT_*), or by family.
func (c *Catalog) Lookup(code string) (Reason, bool) {
	if r, ok := c.exact[code]; ok {
		return r, true
	}
	canonical := code
	if strings.HasPrefix(code, "RECIPIENT_") {
		canonical = "RECEPIENT_" + strings.TrimPrefix(code, "RECIPIENT_")
		if r, ok := c.exact[canonical]; ok {
			r.Code = code
			return r, true
		}
	}
	for _, f := range c.families {
		prefix, suffix, _ := strings.Cut(f.Code, "*")
		if strings.HasPrefix(canonical, prefix) && strings.HasSuffix(canonical, suffix) && len(canonical) > len(prefix)+len(suffix) {
			r := f
			r.Code = code
			return r, true
		}
	}
	return Reason{}, false
}

// Resolve is Lookup that never fails: an unknown registry code becomes
// REGISTRY_UNKNOWN_CODE (parked, for the gateway's operators to add it),
// keeping the registry's code in the English text.
func (c *Catalog) Resolve(code string) Reason {
	if r, ok := c.Lookup(code); ok {
		return r
	}
	r := c.exact[RegistryUnknownCode]
	r.EN += ": " + code
	r.RU += ": " + code
	return r
}
