package topics

// The payload types below are the public contract with the systems that
// publish to and read from the gateway. JSON field names are snake_case.
// A field whose json tag lacks omitempty is required. Struct tags carry the
// documentation the generated JSON Schemas publish:
//
//	doc:"…"      the field's description
//	example:"…"  an example value
//	enum:"a,b"   the allowed values
//	pattern:"…"  a regular expression the value must match
//	minItems:"n" a list must hold at least n items (an empty list is rejected)
//
// Dates and times travel as strings so that a source's spelling can be
// checked and normalized by its adapter with a precise reason, rather than
// failing inside a JSON decoder.

// Date is a calendar date, YYYY-MM-DD.
type Date string

// DateTime is a moment with its offset, RFC 3339 (2026-03-20T14:30:00+03:00,
// any offset RFC 3339 allows, Z included; +0300 without the colon is
// refused). Sources that speak CDA may send yyyyMMddHHmm[ss]+ZZ00, with a +
// offset as the СЭМД pattern requires; the adapter normalizes either to
// Moscow time.
type DateTime string

// ID is an identifier in the CDA style: an OID root and an extension.
type ID struct {
	Root      string `json:"root" doc:"OID of the identifier's namespace" example:"1.2.643.5.1.13.13.12.1.42.202.100.1.1.15"`
	Extension string `json:"extension" doc:"the identifier within that namespace" example:"TAP-2024-000731"`
}

// Patient identifies a patient. At least one of snils, enp or local_id is required.
type Patient struct {
	SNILS      string `json:"snils,omitempty" doc:"СНИЛС in any common spelling (digits, dashes, spaces); 11 digits after normalization" example:"112-233-445 95"`
	ENP        string `json:"enp,omitempty" doc:"ЕНП, the unified 16-digit OMS policy number, for patients without СНИЛС" example:"5056410878123457"`
	LocalID    string `json:"local_id,omitempty" doc:"patient id in the MIS (extension of the OID root <MO OID>.100.<mis>.<inst>.10)" example:"P-000123"`
	FamilyName string `json:"family_name" doc:"фамилия" example:"Иванова"`
	GivenName  string `json:"given_name" doc:"имя" example:"Мария"`
	Patronymic string `json:"patronymic,omitempty" doc:"отчество" example:"Петровна"`
	BirthDate  Date   `json:"birth_date" doc:"дата рождения" example:"1985-03-21"`
	Sex        string `json:"sex" enum:"male,female" doc:"пол" example:"female"`
}

// Person is a medical worker as a source names them.
type Person struct {
	SNILS         string `json:"snils" doc:"the worker's СНИЛС; checked against ФРМР" example:"123-456-789 64"`
	FamilyName    string `json:"family_name" example:"Петров"`
	GivenName     string `json:"given_name" example:"Алексей"`
	Patronymic    string `json:"patronymic,omitempty" example:"Сергеевич"`
	PostCode      string `json:"post_code" doc:"position code, NSI 1.2.643.5.1.13.13.11.1002" example:"109"`
	SpecialtyCode string `json:"specialty_code,omitempty" doc:"specialty code, NSI 1.2.643.5.1.13.13.11.1066" example:"27"`
}

// Diagnosis is one ICD-10 diagnosis of a case or visit.
type Diagnosis struct {
	Code string `json:"code" doc:"ICD-10 code (МКБ-10, NSI 1.2.643.5.1.13.13.11.1005)" pattern:"^[A-Z][0-9]{2}(\\.[0-9]{1,2})?$" example:"J06.9"`
	Role string `json:"role" enum:"main,accompanying,complication" doc:"основной, сопутствующий или осложнение" example:"main"`
	Name string `json:"name,omitempty" example:"Острая инфекция верхних дыхательных путей неуточненная"`
}

// Visit is one step (эпизод) of a treatment case.
type Visit struct {
	ID            string      `json:"id" doc:"the visit's id in the MIS" example:"V-1"`
	At            DateTime    `json:"at" doc:"when the visit took place" example:"2026-03-20T14:30:00+03:00"`
	Doctor        Person      `json:"doctor"`
	DepartmentOID string      `json:"department_oid,omitempty" doc:"OID of the department (ФРМО структурное подразделение)" example:"1.2.643.5.1.13.13.12.2.42.4977.0.2787.2107"`
	Diagnoses     []Diagnosis `json:"diagnoses,omitempty"`
}

// CaseEvent is a treatment case (случай медицинского обслуживания) as an RMIS publishes it.
type CaseEvent struct {
	CaseID    ID          `json:"case_id" doc:"the case id: root <MO OID>.100.<mis>.<inst>.15 and the MIS's extension"`
	Version   int64       `json:"version" doc:"increases with every change of the case; with updated_at it orders updates" example:"2"`
	UpdatedAt DateTime    `json:"updated_at" example:"2026-03-20T15:00:00+03:00"`
	Status    string      `json:"status" enum:"open,closed" example:"closed"`
	Type      string      `json:"type" enum:"outpatient,inpatient,day_hospital,emergency" doc:"вид случая" example:"outpatient"`
	OpenedAt  DateTime    `json:"opened_at" example:"2026-03-18T09:10:00+03:00"`
	ClosedAt  DateTime    `json:"closed_at,omitempty" doc:"required when status is closed" example:"2026-03-20T14:45:00+03:00"`
	MOOID     string      `json:"mo_oid" doc:"the medical organization's OID in ФРМО" example:"1.2.643.5.1.13.13.12.1.42.202"`
	Patient   Patient     `json:"patient"`
	Doctor    Person      `json:"doctor" doc:"the attending doctor"`
	Diagnoses []Diagnosis `json:"diagnoses" minItems:"1" doc:"at least one; exactly one main diagnosis"`
	Visits    []Visit     `json:"visits,omitempty"`
}

// Certificate is a qualified signature certificate (КЭП) as a MIS declares
// it. The certificate itself travels inside the signature; a declared one
// is optional and, where present, must agree with it.
type Certificate struct {
	Serial    string   `json:"serial" doc:"certificate serial number, hex" example:"01d7a3f25c9b8e4000000000000000aa"`
	Issuer    string   `json:"issuer,omitempty" doc:"issuing CA" example:"Казначейство России"`
	NotBefore DateTime `json:"not_before" example:"2026-01-10T00:00:00+03:00"`
	NotAfter  DateTime `json:"not_after" example:"2036-04-10T00:00:00+03:00"`
}

// Signer is one signature on a document: a detached CMS SignedData over
// the exact bytes of the document's file, one signer per container, the
// signer's certificate inside it.
type Signer struct {
	Role        string       `json:"role" enum:"doctor,head,organization" doc:"who signs: the author (ЭП МР, a personal certificate with СНИЛС), the head of department (personal), or the organization (ЭП МО, the organization's certificate with ОГРН)" example:"doctor"`
	Person      *Person      `json:"person,omitempty" doc:"the signing worker; absent for an organization signature. Checked against the holder named in the signature's certificate (СНИЛС, name) and against ФРМР"`
	Signature   []byte       `json:"signature" doc:"detached CMS SignedData (DER, base64) over the exact bytes of file, one signer, its certificate inside. The certificate's validity, holder and key usage, the chain to the configured roots, the signing time and the digest are taken from it"`
	Certificate *Certificate `json:"certificate,omitempty" doc:"optional: the certificate as the MIS knows it; where present it is cross-checked against the certificate inside signature"`
	SignedAt    DateTime     `json:"signed_at" doc:"when the signer signed; cross-checked against the signature's signingTime" example:"2026-03-20T15:02:00+03:00"`
}

// Attachment is a document's file: the CDA XML itself, inline (base64, up
// to DocumentInlineBytes) or, above that, by reference to the MIS's own
// https URL, which the gateway fetches and checks against size and sha256.
type Attachment struct {
	MediaType string `json:"media_type" doc:"the CDA's media type" example:"text/xml"`
	Data      []byte `json:"data,omitempty" doc:"the CDA XML file, base64, up to 720 KiB decoded; either data or ref"`
	Ref       string `json:"ref,omitempty" doc:"the MIS's https URL of the CDA file, for a file above the inline limit; size and sha256 are then required; either data or ref" example:"https://mis.example.ru/semd/2b1c6a0e.xml"`
	Size      int64  `json:"size" doc:"size of the file in bytes" example:"48213"`
	SHA256    string `json:"sha256" doc:"SHA-256 of the file, hex" pattern:"^[0-9a-f]{64}$" example:"9f2b5c0d8a1e4f7b3c6d9e0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e"`
}

// DocumentEvent is a signed СЭМД to register in РЭМД.
type DocumentEvent struct {
	Kind          string        `json:"kind" doc:"СЭМД kind code (РЭМД document kind)" example:"34"`
	LocalUID      string        `json:"local_uid" doc:"the MIS's id of this version, an RFC 4122 UUID; the idempotency key of the registration" example:"2b1c6a0e-6f0d-4c43-9d0f-2a7e5b1c9d11"`
	DocumentID    ID            `json:"document_id" doc:"document id, root ending .51; changes with each version"`
	SetID         ID            `json:"set_id" doc:"document set id, root ending .50; stable across versions"`
	Version       int64         `json:"version" example:"1"`
	Number        string        `json:"number,omitempty" doc:"documentNumber" example:"2024-000731"`
	CreatedAt     DateTime      `json:"created_at" example:"2026-03-20T15:00:00+03:00"`
	MOOID         string        `json:"mo_oid" example:"1.2.643.5.1.13.13.12.1.42.202"`
	DepartmentOID string        `json:"department_oid,omitempty" example:"1.2.643.5.1.13.13.12.2.42.4977.0.2787.2107"`
	CaseID        *ID           `json:"case_id,omitempty" doc:"the treatment case the document belongs to"`
	Patient       Patient       `json:"patient"`
	Signers       []Signer      `json:"signers" minItems:"1" doc:"at least the author's signature; each signs file"`
	File          Attachment    `json:"file" doc:"the CDA XML the signers signed"`
	Diagnoses     []Diagnosis   `json:"diagnoses,omitempty"`
	Associations  []Association `json:"associations,omitempty" doc:"links to documents РЭМД has registered, such as the version this one replaces; sent to РЭМД as registerDocument's associations"`
}

// Association links a document to one РЭМД has registered.
type Association struct {
	EMDRID string `json:"emdr_id" doc:"the registered document's emdrId, as the status topic's registered outcome gave it (registry_id)" example:"16.62.26.03.000000731"`
	Type   string `json:"type" doc:"the link's code in НСИ 1.2.643.5.1.13.13.99.2.122 (types of links between documents), as the MIS's НСИ gives it" pattern:"^[0-9]{1,4}$" example:"1"`
}

// Drug is a prescribed medicine.
type Drug struct {
	Code string `json:"code,omitempty" doc:"ЕСКЛП code" example:"21.20.10.140-000008-1-00002-2000000773611"`
	Name string `json:"name" doc:"МНН or trade name" example:"Амоксициллин"`
	Form string `json:"form,omitempty" doc:"dosage form" example:"капсулы"`
	Dose string `json:"dose,omitempty" example:"500 мг"`
}

// Quantity is an amount in a unit.
type Quantity struct {
	Value float64 `json:"value" example:"2"`
	Unit  string  `json:"unit" doc:"unit (упаковка, таблетка, мл …)" example:"упаковка"`
}

// PrescriptionEvent is a prescription (рецепт) issued or cancelled by an MIS.
type PrescriptionEvent struct {
	Action       string   `json:"action" enum:"issued,cancelled" example:"issued"`
	Number       string   `json:"number" doc:"prescription number; with series, the business id" example:"000731"`
	Series       string   `json:"series" example:"42-24"`
	Form         string   `json:"form" doc:"form of the prescription" enum:"107-1/у,148-1/у-88,148-1/у-04(л)" example:"107-1/у"`
	IssuedAt     DateTime `json:"issued_at" example:"2026-03-20T15:05:00+03:00"`
	ValidUntil   Date     `json:"valid_until" example:"2036-04-19"`
	Drug         Drug     `json:"drug"`
	Quantity     Quantity `json:"quantity"`
	Signa        string   `json:"signa,omitempty" doc:"dosing instructions" example:"по 1 капсуле 3 раза в день 7 дней"`
	BenefitCode  string   `json:"benefit_code,omitempty" doc:"льгота code for preferential prescriptions (checked by ФРЛЛО)" example:"081"`
	Patient      Patient  `json:"patient"`
	Doctor       Person   `json:"doctor"`
	MOOID        string   `json:"mo_oid" example:"1.2.643.5.1.13.13.12.1.42.202"`
	RegionCode   string   `json:"region_code" doc:"code of the region (NSI 1.2.643.5.1.13.13.99.2.20)" example:"42"`
	CancelReason string   `json:"cancel_reason,omitempty" doc:"required when action is cancelled" example:"ошибка в назначении"`
}

// LabTest is one test of a lab result.
type LabTest struct {
	Code           string `json:"code" doc:"ФСЛИ test code (NSI 1.2.643.5.1.13.13.11.1080)" example:"1017006"`
	Name           string `json:"name,omitempty" example:"Гемоглобин общий в крови"`
	Value          string `json:"value" doc:"the result; a decimal number for numeric tests" example:"128"`
	ValueType      string `json:"value_type" enum:"numeric,text,coded" example:"numeric"`
	Unit           string `json:"unit,omitempty" doc:"unit code (NSI 1.2.643.5.1.13.13.11.1358); required for numeric values" example:"г/л"`
	ReferenceRange string `json:"reference_range,omitempty" example:"120-140"`
	Interpretation string `json:"interpretation,omitempty" doc:"interpretation code (NSI 1.2.643.5.1.13.13.99.2.257)" example:"N"`
}

// Sample is the biomaterial a lab result was measured on.
type Sample struct {
	ID           ID       `json:"id" doc:"sample id, root ending .66"`
	MaterialCode string   `json:"material_code" doc:"ФСЛИ biomaterial code (NSI 1.2.643.5.1.13.13.11.1081)" example:"1"`
	CollectedAt  DateTime `json:"collected_at" example:"2026-03-19T08:15:00+03:00"`
}

// LabResultEvent is a laboratory result published by a ЛИС.
type LabResultEvent struct {
	ResultID    ID        `json:"result_id" doc:"the result's id in the ЛИС; its business id"`
	Referral    ID        `json:"referral" doc:"the referral (направление) the result answers"`
	Version     int64     `json:"version" example:"1"`
	CompletedAt DateTime  `json:"completed_at" example:"2026-03-19T12:40:00+03:00"`
	LabOID      string    `json:"lab_oid" doc:"OID of the laboratory's organization in ФРМО" example:"1.2.643.5.1.13.13.12.1.42.310"`
	CaseID      *ID       `json:"case_id,omitempty"`
	Patient     Patient   `json:"patient"`
	Validator   Person    `json:"validator" doc:"the doctor who validated the result"`
	Sample      Sample    `json:"sample"`
	Tests       []LabTest `json:"tests" minItems:"1" doc:"at least one test"`
}

// DispensationEvent is a pharmacy's dispensation against a prescription.
type DispensationEvent struct {
	DispensationID     string   `json:"dispensation_id" doc:"the pharmacy's id of this dispensation; its business id" example:"APT-77-2024-0009931"`
	PrescriptionNumber string   `json:"prescription_number" example:"000731"`
	PrescriptionSeries string   `json:"prescription_series" example:"42-24"`
	PharmacyChain      string   `json:"pharmacy_chain" doc:"the chain's id" example:"zdorovye"`
	PharmacyID         string   `json:"pharmacy_id" doc:"the pharmacy's id within its chain" example:"zdorovye-0142"`
	PharmacyOID        string   `json:"pharmacy_oid,omitempty" doc:"the pharmacy's OID, where it has one"`
	Quantity           Quantity `json:"quantity"`
	DispensedAt        DateTime `json:"dispensed_at" example:"2026-03-21T11:20:00+03:00"`
	Patient            Patient  `json:"patient"`
	Drug               *Drug    `json:"drug,omitempty" doc:"what was dispensed, when it differs from the prescription (synonym substitution)"`
}

// IdentityEvent comes from the Gosuslugi identity bridge (ЕСИА).
type IdentityEvent struct {
	Action       string   `json:"action" enum:"identity_confirmed,identity_updated,consent_granted,consent_revoked" example:"identity_confirmed"`
	At           DateTime `json:"at" example:"2026-03-01T10:00:00+03:00"`
	Patient      Patient  `json:"patient" doc:"for identity events the confirmed СНИЛС, name, birth date and sex"`
	ConsentScope string   `json:"consent_scope,omitempty" doc:"what the consent covers; required for consent events" example:"egisz-exchange"`
}

// Post is a worker's position at an organization over a period.
type Post struct {
	MOOID         string `json:"mo_oid" example:"1.2.643.5.1.13.13.12.1.42.202"`
	DepartmentOID string `json:"department_oid,omitempty"`
	PostCode      string `json:"post_code" example:"109"`
	SpecialtyCode string `json:"specialty_code,omitempty" example:"27"`
	From          Date   `json:"from" example:"2019-09-01"`
	Until         Date   `json:"until,omitempty" doc:"absent while the post is held" example:"2025-12-31"`
}

// Employee is a medical worker from the ФРМР feed, keyed by СНИЛС.
type Employee struct {
	SNILS        string        `json:"snils" example:"123-456-789 64"`
	FamilyName   string        `json:"family_name" example:"Петров"`
	GivenName    string        `json:"given_name" example:"Алексей"`
	Patronymic   string        `json:"patronymic,omitempty" example:"Сергеевич"`
	Posts        []Post        `json:"posts"`
	Certificates []Certificate `json:"certificates,omitempty"`
}

// SeenCertificate is a signing certificate the gateway found inside an
// accepted document's signature, for the clinic the document came from
// (CertificateSeen). It holds what the expiry warnings need and no more:
// the holder only as a masked label.
type SeenCertificate struct {
	SHA256    string   `json:"sha256" doc:"SHA-256 of the certificate's DER, hex" pattern:"^[0-9a-f]{64}$" example:"5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592"`
	MOOID     string   `json:"mo_oid" doc:"the clinic whose document it signed" example:"1.2.643.5.1.13.13.12.1.42.202"`
	Role      string   `json:"role" enum:"doctor,head,organization" doc:"the signer's role in that document" example:"doctor"`
	Serial    string   `json:"serial" doc:"certificate serial number, lower-case hex" example:"01d7a3f25c9b8e4000000000000000aa"`
	Issuer    string   `json:"issuer" doc:"the issuing CA's common name (its whole name when it has none)" example:"Казначейство России"`
	NotBefore DateTime `json:"not_before" example:"2026-01-10T00:00:00Z"`
	NotAfter  DateTime `json:"not_after" example:"2027-04-10T00:00:00Z"`
	Holder    string   `json:"holder" doc:"the holder, masked: a person's initials (П*** А*** С***), an organization's name" example:"П*** А*** С***"`
	SeenAt    DateTime `json:"seen_at" doc:"when the gateway accepted the document it was seen in" example:"2026-03-20T15:04:00Z"`
}

// Organization is a medical organization from the ФРМО feed, keyed by OID.
type Organization struct {
	OID         string `json:"oid" example:"1.2.643.5.1.13.13.12.1.42.202"`
	OldOID      string `json:"old_oid,omitempty"`
	Name        string `json:"name" example:"ГБУЗ «Городская клиническая больница № 2»"`
	RegionCode  string `json:"region_code" example:"42"`
	ParentOID   string `json:"parent_oid,omitempty"`
	ActiveFrom  Date   `json:"active_from" example:"2012-01-01"`
	ActiveUntil Date   `json:"active_until,omitempty" doc:"ФРМО deleteDate; absent while active"`
}

// InformationSystem is an information system registered in ЕГИСЗ, from
// the systems feed, keyed by the ce_source its events carry: which
// medical organizations it may send for, in which region, and when.
type InformationSystem struct {
	CESource       string   `json:"ce_source" doc:"the ce_source header of the system's events; the record key" example:"1.2.643.5.1.13.13.12.1.42.202"`
	ClientEntityID string   `json:"client_entity_id" doc:"the system's clientEntityId in ЕГИСЗ (a UUID)" example:"7d2f0c4e-5b1a-4c3d-9e8f-0a1b2c3d4e5f"`
	Name           string   `json:"name,omitempty" example:"РМИС Кузбасса"`
	MOOIDs         []string `json:"mo_oids" doc:"the ФРМО OIDs of the organizations the system may send for"`
	RegionCode     string   `json:"region_code" doc:"the system's region; every organization it sends for must be of it" example:"42"`
	ActiveFrom     Date     `json:"active_from" example:"2015-01-01"`
	ActiveUntil    Date     `json:"active_until,omitempty" doc:"the day the system was disabled; absent while active"`
}

// OutboundEvent is validated, deduplicated work for one registry. Event
// is its last field, so that writers can splice a payload in and readers
// can cut it out (SplitOutbound) without scanning it twice.
type OutboundEvent struct {
	Kind       string   `json:"kind" enum:"case,document,prescription,lab_result,dispensation" example:"document"`
	PatientKey string   `json:"patient_key" example:"11223344595"`
	DedupKey   string   `json:"dedup_key" example:"11223344595|document|1.2.643.5.1.13.13.12.1.42.202.100.1.1.50:SET-731"`
	Version    int64    `json:"version" example:"1"`
	Update     bool     `json:"update" doc:"true when this is a new version of something already forwarded"`
	Source     string   `json:"source" doc:"the producing system (ce_source)" example:"1.2.643.5.1.13.13.12.1.42.202"`
	ReceivedAt DateTime `json:"received_at"`
	Event      any      `json:"event" doc:"the canonical event, normalized (identifiers in canonical spelling)"`
}

// Reason is one reason an event was rejected or failed, from the reason catalog.
type Reason struct {
	Code      string `json:"code" doc:"stable code from the reason catalog (egisz-gateway reasons)" example:"SNILS_CHECKSUM"`
	Owner     string `json:"owner" enum:"clinic,mis,integrator,registry,gateway" doc:"who must act" example:"mis"`
	Retryable bool   `json:"retryable"`
	Field     string `json:"field,omitempty" doc:"the field at fault, as a JSON path" example:"patient.snils"`
	MessageRU string `json:"message_ru" example:"Неверная контрольная сумма СНИЛС"`
	MessageEN string `json:"message_en" example:"SNILS checksum does not match"`
}

// HeaderOriginType is the CloudEvents extension header that carries the
// ingress event's ce_type on the records the gateway derives from it
// (outbound records have their own ce_type), so that every status names
// the type of the event it answers.
const HeaderOriginType = "ce_origintype"

// HeaderReplayCount is the CloudEvents extension header an operator's
// replay puts on a dead-letter record it sends again: how many times it
// was replayed. The stages carry it along, so a record that fails again is
// parked with dlq.replay_count one higher.
const HeaderReplayCount = "ce_replaycount"

// Status is the outcome of one ingress event, for its source to read.
type Status struct {
	CEID       string   `json:"ce_id" doc:"the ingress event's ce_id; empty when it had none (match such a status by ingress)"`
	Source     string   `json:"source" doc:"the ingress event's ce_source"`
	Type       string   `json:"type" doc:"the ingress event's ce_type"`
	Outcome    string   `json:"outcome" enum:"accepted,update,duplicate,conflict,rejected,pending,registered,failed" doc:"normalize: accepted, update (forwarded), duplicate, conflict, rejected (parked); forward: pending (РЭМД took it, its result comes later), registered, rejected (parked with the registry's codes), failed (transient failures outlasted the retry budget; parked)" example:"registered"`
	Registry   string   `json:"registry,omitempty" enum:"remd,iemk,erx" example:"remd"`
	RegistryID string   `json:"registry_id,omitempty" doc:"the registry's id, e.g. РЭМД emdrId" example:"16.62.23.09.000014523"`
	Reasons    []Reason `json:"reasons,omitempty"`
	At         DateTime `json:"at"`
	// Ingress is set on the normalize stage's statuses (accepted, update,
	// duplicate, conflict, rejected).
	Ingress *IngressRef `json:"ingress,omitempty" doc:"the ingress record this status answers, where the publisher's producer wrote it (normalize's statuses; the registries' statuses carry the ce_id of an accepted event). An event sent without ce_id is rejected with HEADER_MISSING at ce_id and its status has an empty ce_id: match it by ingress"`
}

// IngressRef names an ingress record by its place in Kafka, as a
// producer's delivery report gives it.
type IngressRef struct {
	Topic     string `json:"topic" doc:"the ingress topic, with the deployment's prefix" example:"egisz.rmis.case.v1"`
	Partition int32  `json:"partition" example:"3"`
	Offset    int64  `json:"offset" example:"1742"`
}

// PharmacyPrescription is a validated prescription's new state, for
// pharmacy chains: one record each time it changes, keyed by series/number
// so that a prescription's history is read in order.
type PharmacyPrescription struct {
	Series     string             `json:"series" example:"42-24"`
	Number     string             `json:"number" example:"000731"`
	RegionCode string             `json:"region_code,omitempty" example:"42"`
	State      string             `json:"state" enum:"issued,partly_dispensed,dispensed,cancelled,expired" example:"issued"`
	Remaining  Quantity           `json:"remaining" doc:"what may still be dispensed"`
	Changed    DateTime           `json:"changed_at"`
	Prescribed *PrescriptionEvent `json:"prescription,omitempty" doc:"the prescription as the MIS sent it: on issued and cancelled"`
	// Dispensation is the dispensation that changed the state.
	Dispensation *DispensationRef `json:"dispensation,omitempty" doc:"the dispensation behind a partly_dispensed or dispensed state"`
}

// DispensationRef names a dispensation in a prescription's state change.
type DispensationRef struct {
	DispensationID string   `json:"dispensation_id" example:"APT-77-2024-0009931"`
	PharmacyChain  string   `json:"pharmacy_chain" example:"zdorovye"`
	PharmacyID     string   `json:"pharmacy_id" example:"zdorovye-0142"`
	Quantity       Quantity `json:"quantity"`
	DispensedAt    DateTime `json:"dispensed_at" example:"2026-03-21T11:02:00+03:00"`
}

// Headers of egisz.pharmacy.prescription.v1 that let a chain select
// records without decoding them (CloudEvents extension attributes).
const (
	HeaderRegion        = "ce_region"        // the prescription's region code
	HeaderRxState       = "ce_rxstate"       // the new state
	HeaderPharmacyChain = "ce_pharmacychain" // the chain whose dispensation changed the state
	HeaderPharmacyID    = "ce_pharmacyid"    // and its pharmacy
)

// AuditRecord is one operator action.
type AuditRecord struct {
	Actor   string   `json:"actor" example:"ivanov@rmis-ops"`
	Role    string   `json:"role,omitempty" enum:"viewer,operator,auditor" doc:"empty for a caller who could not be authenticated" example:"operator"`
	Via     string   `json:"via" doc:"cli, or api with the caller's address" example:"api 127.0.0.1:53122"`
	Action  string   `json:"action" enum:"list,show,reveal,replay,purge,audit,callback" doc:"what was done, or asked for when the outcome is denied; callback: requests to РЭМД's callback endpoint refused for want of a trusted client certificate, counted in count" example:"replay"`
	Filter  string   `json:"filter,omitempty" example:"topic=egisz.dlq.remd reason=RATE_LIMIT"`
	Count   int      `json:"count" example:"42"`
	Reason  string   `json:"reason,omitempty" doc:"the operator's reason text" example:"РЭМД снова доступен"`
	DryRun  bool     `json:"dry_run,omitempty"`
	At      DateTime `json:"at"`
	Outcome string   `json:"outcome" enum:"ok,denied,failed" example:"ok"`
}
