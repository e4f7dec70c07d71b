// Package loadgen makes realistic traffic for the gateway: treatment
// cases, signed documents, lab results, prescriptions and dispensations of
// generated patients, with the ФРМР and ФРМО feeds that make them valid,
// and a chosen share of duplicates, updates, conflicts and records the
// gateway must refuse. Every event comes with the outcome it must get, so
// a run can check the gateway's answers, not only count them. The same
// seed gives the same events.
package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Mix is the share of each kind of trouble, each between 0 and 1.
type Mix struct {
	Duplicate     float64 // the same event again under a new ce_id
	Update        float64 // a case changed, with a higher version
	Conflict      float64 // a case changed without a higher version
	InvalidID     float64 // a СНИЛС with a wrong check number
	UnknownDoctor float64 // a doctor ФРМР does not know
	ExpiredCert   float64 // a document signed after its certificate expired
	Mismatch      float64 // a patient whose name differs from the confirmed identity
	Poison        float64 // a record no producer should send (Poison)
	Sizes         float64 // a valid case at and around the size limits (Sized)
}

// DefaultMix is a day in a region: mostly good events.
var DefaultMix = Mix{Duplicate: 0.05, Update: 0.05, Conflict: 0.01, InvalidID: 0.02, UnknownDoctor: 0.01, ExpiredCert: 0.01, Mismatch: 0.01}

// ParseMix reads "duplicate=0.05,update=0.05,…"; kinds not named keep
// DefaultMix's share, and "none" is no trouble at all.
func ParseMix(s string) (Mix, error) {
	m := DefaultMix
	if s == "" {
		return m, nil
	}
	if s == "none" {
		return Mix{}, nil
	}
	fields := map[string]*float64{
		"duplicate": &m.Duplicate, "update": &m.Update, "conflict": &m.Conflict, "invalid_id": &m.InvalidID,
		"unknown_doctor": &m.UnknownDoctor, "expired_cert": &m.ExpiredCert, "mismatch": &m.Mismatch,
		"poison": &m.Poison, "sizes": &m.Sizes,
	}
	total := 0.0
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		p, known := fields[k]
		f, err := strconv.ParseFloat(v, 64)
		if !ok || !known || err != nil || f < 0 || f > 1 {
			return m, fmt.Errorf("mix %q: want kind=share with a share from 0 to 1; kinds: duplicate, update, conflict, invalid_id, unknown_doctor, expired_cert, mismatch, poison, sizes", part)
		}
		*p = f
	}
	for _, p := range fields {
		total += *p
	}
	if total > 0.9 {
		return m, fmt.Errorf("mix: the shares add up to %.2f; leave room for good events (at most 0.9)", total)
	}
	return m, nil
}

// Outcomes the normalize stage gives (topics.Status.Outcome).
const (
	Accepted  = "accepted"
	Update    = "update"
	Duplicate = "duplicate"
	Conflict  = "conflict"
	Rejected  = "rejected"
)

// Event is one record to send and what must become of it.
type Event struct {
	Record *kgo.Record
	CEID   string
	Kind   string // case, document, lab_result, prescription, dispensation
	Expect string // the normalize stage's outcome
	Code   string // the first reason's code, when rejected
	// Registries it must reach (and be registered by) when accepted or an update.
	Registries []string
}

// Config configures a generator.
type Config struct {
	Seed     uint64
	Prefix   string // the deployment's topic prefix
	Mix      Mix
	Patients int       // distinct patients (default 10,000)
	Now      time.Time // the generator's clock for dates (default time.Now at New)
	// PayloadPad pads every payload with an unknown field to about this many
	// bytes (the gateway keeps unknown fields), for benchmarks by size.
	PayloadPad int
}

const (
	region   = "42"
	labOID   = "1.2.643.5.1.13.13.12.1.42.310"
	deptOID  = "1.2.643.5.1.13.13.12.2.42.4977.0.2787.2107"
	ceSource = "loadgen"
	doctors  = 60
	pharmacy = "loadgen-chain"
)

// mos are the medical organizations of the generated region.
var mos = []string{"1.2.643.5.1.13.13.12.1.42.202", "1.2.643.5.1.13.13.12.1.42.117", "1.2.643.5.1.13.13.12.1.42.118"}

type person struct {
	snils, family, given, patronymic, birth, sex string
}

type doctor struct {
	person
	mo     string
	cert   string
	labDoc bool
}

// sent is an accepted case kept for later duplicates, updates and conflicts.
type sentCase struct {
	patient int
	body    []byte
	version int64
	ext     string
	mo      string
	doctor  int
}

// Generator makes events. It is not safe for concurrent use.
type Generator struct {
	cfg      Config
	rnd      *rand.Rand
	patients []person
	doctors  []doctor
	cases    []sentCase
	rx       []rxIssued // issued prescriptions, oldest first, for dispensations
	n        int
	seq      int
	poisons  int
	sized    int
	// confirmed patients: the identity bridge confirmed them (Identities).
	confirmed []int
	sig       *signing
}

type rxIssued struct {
	patient        int
	series, number string
	qty            float64
	at             int // the event count when it was issued
}

// dispenseGap is how many events come between a prescription and its
// dispensation: two of the normalize stage's largest batches, so the
// prescription is in the gateway's state before its dispensation comes
// (they are different topics, ordered only by arrival).
const dispenseGap = 10_000

// New returns a generator.
func New(cfg Config) *Generator {
	if cfg.Patients <= 0 {
		cfg.Patients = 10_000
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	g := &Generator{cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), sig: newSigning(cfg.Seed, cfg.Now)}
	for i := range cfg.Patients {
		g.patients = append(g.patients, g.newPerson(ident.MakeSNILS(500_000_000+i*7919)))
	}
	for i := range doctors {
		d := doctor{person: g.newPerson(ident.MakeSNILS(600_000_000 + i*7)), mo: mos[i%len(mos)], cert: fmt.Sprintf("%032x", 0xabc000+i)}
		if i%10 == 9 {
			d.mo, d.labDoc = labOID, true
		}
		g.doctors = append(g.doctors, d)
	}
	for i := 0; i < len(g.patients); i += 20 {
		g.confirmed = append(g.confirmed, i)
	}
	return g
}

var (
	familyMale   = []string{"Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков", "Фёдоров", "Морозов", "Волков"}
	givenMale    = []string{"Александр", "Сергей", "Дмитрий", "Андрей", "Алексей", "Максим", "Иван", "Михаил", "Николай", "Артём"}
	givenFemale  = []string{"Мария", "Анна", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Екатерина", "Светлана", "Юлия"}
	patronymics  = []string{"Александров", "Сергеев", "Дмитриев", "Андреев", "Иванов", "Петров", "Николаев", "Михайлов"}
	icd10        = []string{"J06.9", "I10", "E11.9", "K29.7", "M54.5", "J20.9", "N39.0", "I25.1", "J45.9", "K21.9"}
	drugs        = []string{"Амоксициллин", "Метформин", "Эналаприл", "Аторвастатин", "Омепразол", "Бисопролол"}
	semdKinds    = []string{"34", "2", "5", "7"}
	labTestCodes = []string{"1017006", "1015117", "1018001"}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func (g *Generator) newPerson(snils string) person {
	p := person{snils: snils}
	if g.rnd.IntN(2) == 0 {
		p.sex, p.family, p.given = "male", pick(g.rnd, familyMale), pick(g.rnd, givenMale)
		p.patronymic = pick(g.rnd, patronymics) + "ич"
	} else {
		p.sex, p.family, p.given = "female", pick(g.rnd, familyMale)+"а", pick(g.rnd, givenFemale)
		p.patronymic = pick(g.rnd, patronymics) + "на"
	}
	p.birth = time.Date(1940+g.rnd.IntN(80), time.Month(1+g.rnd.IntN(12)), 1+g.rnd.IntN(28), 0, 0, 0, 0, time.UTC).Format("2006-01-02")
	return p
}

func (p person) patient() topics.Patient {
	return topics.Patient{SNILS: p.snils, FamilyName: p.family, GivenName: p.given, Patronymic: p.patronymic, BirthDate: topics.Date(p.birth), Sex: p.sex}
}

func (d doctor) person2(post string) topics.Person {
	return topics.Person{SNILS: d.snils, FamilyName: d.family, GivenName: d.given, Patronymic: d.patronymic, PostCode: post}
}

func (g *Generator) at(offset time.Duration) topics.DateTime {
	return topics.DateTime(g.cfg.Now.Add(offset).In(datetime.Moscow).Format(time.RFC3339))
}

// References are the ФРМО organizations, ФРМР workers and the sending
// information system the events name: publish them (and let the gateway
// read them) before the events.
func (g *Generator) References() []*kgo.Record {
	var out []*kgo.Record
	served := append(append([]string(nil), mos...), labOID)
	for _, oid := range served {
		b, _ := json.Marshal(topics.Organization{OID: oid, Name: "ГБУЗ «Больница " + oid[strings.LastIndexByte(oid, '.')+1:] + "»", RegionCode: region, ActiveFrom: "2012-01-01"})
		out = append(out, g.record(topics.FRMOOrganization, oid, "ru.egisz.frmo.organization.v1", b))
	}
	// One regional system sends for every organization: with the systems
	// feed filled the binding check is on, and the traffic passes it.
	sys, _ := json.Marshal(topics.InformationSystem{CESource: ceSource, ClientEntityID: "5f0e7c1a-9b2d-4e6f-8a3c-1d2e3f4a5b6c",
		Name: "РМИС (loadgen)", MOOIDs: served, RegionCode: region, ActiveFrom: "2015-01-01"})
	out = append(out, g.record(topics.InfoSystems, ceSource, "ru.egisz.is.system.v1", sys))
	for _, d := range g.doctors {
		// The posts the events name (post_code), which the gateway compares
		// with ФРМР: 109 (врач-терапевт) at a clinic, 76 at the laboratory.
		post := "109"
		if d.labDoc {
			post = "76"
		}
		e := topics.Employee{SNILS: d.snils, FamilyName: d.family, GivenName: d.given, Patronymic: d.patronymic,
			Posts:        []topics.Post{{MOOID: d.mo, PostCode: post, SpecialtyCode: "27", From: "2019-09-01"}},
			Certificates: []topics.Certificate{g.sig.listed(d)}}
		b, _ := json.Marshal(e)
		out = append(out, g.record(topics.FRMREmployee, d.snils, "ru.egisz.frmr.employee.v1", b))
	}
	return out
}

// Identities are the identity bridge's confirmations of some patients
// (every 20th): publish them, and let the gateway take them, before the
// events, since mismatches are judged against them.
func (g *Generator) Identities() []Event {
	var out []Event
	for _, i := range g.confirmed {
		p := g.patients[i]
		b, _ := json.Marshal(topics.IdentityEvent{Action: "identity_confirmed", At: g.at(-30 * 24 * time.Hour), Patient: p.patient()})
		out = append(out, g.event(topics.ESIAIdentity, p.snils, "ru.egisz.esia.identity.v1", "identity", b, Accepted, "", nil))
	}
	return out
}

func (g *Generator) record(topic, key, ceType string, value []byte) *kgo.Record {
	g.seq++
	return &kgo.Record{Topic: g.cfg.Prefix + topic, Key: []byte(key), Value: value, Headers: []kgo.RecordHeader{
		{Key: "ce_specversion", Value: []byte("1.0")},
		{Key: "ce_id", Value: []byte(g.id())},
		{Key: "ce_source", Value: []byte(ceSource)},
		{Key: "ce_type", Value: []byte(ceType)},
		{Key: "content-type", Value: []byte("application/json")},
	}}
}

// id is a deterministic RFC 4122 UUID: the seed and the sequence.
func (g *Generator) id() string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(g.cfg.Seed), uint16(g.cfg.Seed>>32), (g.seq>>48)&0xfff, (g.seq>>36)&0xfff, g.seq&0xffffffffffff)
}

func (g *Generator) event(topic, key, ceType, kind string, body []byte, expect, code string, regs []string) Event {
	r := g.record(topic, key, ceType, g.pad(body))
	return Event{Record: r, CEID: string(r.Headers[1].Value), Kind: kind, Expect: expect, Code: code, Registries: regs}
}

// pad adds an unknown field so the payload is about PayloadPad bytes.
func (g *Generator) pad(body []byte) []byte {
	if n := g.cfg.PayloadPad - len(body) - 16; n > 0 && len(body) > 0 && body[len(body)-1] == '}' {
		return append(append(body[:len(body)-1:len(body)-1], `,"x_pad":"`...), append([]byte(strings.Repeat("x", n)), `"}`...)...)
	}
	return body
}

// Next makes the next event.
func (g *Generator) Next() Event {
	g.n++
	m := g.cfg.Mix
	x := g.rnd.Float64()
	if len(g.cases) > 0 {
		switch {
		case x < m.Duplicate:
			return g.duplicate()
		case x < m.Duplicate+m.Update:
			return g.update(false)
		case x < m.Duplicate+m.Update+m.Conflict:
			return g.update(true)
		}
		x -= m.Duplicate + m.Update + m.Conflict
	}
	switch {
	case x < m.InvalidID:
		return g.newCase(troubleInvalidID)
	case x < m.InvalidID+m.UnknownDoctor:
		return g.newCase(troubleUnknownDoctor)
	case x < m.InvalidID+m.UnknownDoctor+m.ExpiredCert:
		return g.document(true)
	case x < m.InvalidID+m.UnknownDoctor+m.ExpiredCert+m.Mismatch:
		return g.newCase(troubleMismatch)
	case x < m.InvalidID+m.UnknownDoctor+m.ExpiredCert+m.Mismatch+m.Poison:
		return g.Poison()
	case x < m.InvalidID+m.UnknownDoctor+m.ExpiredCert+m.Mismatch+m.Poison+m.Sizes:
		return g.Sized()
	}
	switch k := g.rnd.IntN(20); {
	case k < 8:
		return g.newCase(0)
	case k < 12:
		return g.document(false)
	case k < 15:
		return g.lab()
	case k < 18 || len(g.rx) == 0 || g.n-g.rx[0].at < dispenseGap:
		return g.prescription()
	default:
		return g.dispensation()
	}
}

const (
	troubleInvalidID = iota + 1
	troubleUnknownDoctor
	troubleMismatch
)

func (g *Generator) clinicDoctor() (int, doctor) {
	for {
		i := g.rnd.IntN(len(g.doctors))
		if !g.doctors[i].labDoc {
			return i, g.doctors[i]
		}
	}
}

func (g *Generator) newCase(trouble int) Event {
	pi := g.rnd.IntN(len(g.patients))
	if trouble == troubleMismatch {
		pi = g.confirmed[g.rnd.IntN(len(g.confirmed))]
	}
	p := g.patients[pi]
	di, d := g.clinicDoctor()
	g.seq++
	ext := fmt.Sprintf("TAP-%d-%07d", g.cfg.Seed%1000, g.seq)
	c := g.caseBody(p, d, ext, 1, []string{pick(g.rnd, icd10)})
	key, expect, code := p.snils, Accepted, ""
	regs := []string{string(topics.RegistryIEMK)}
	switch trouble {
	case troubleInvalidID:
		bad := p.snils[:9] + fmt.Sprintf("%02d", (int(p.snils[9]-'0')*10+int(p.snils[10]-'0')+1)%100)
		c.Patient.SNILS, key, expect, code, regs = bad, bad, Rejected, "SNILS_CHECKSUM", nil
	case troubleUnknownDoctor:
		stranger := ident.MakeSNILS(700_000_000 + g.rnd.IntN(1_000_000))
		c.Doctor.SNILS, c.Visits[0].Doctor.SNILS = stranger, stranger
		expect, code, regs = Rejected, "DOCTOR_NOT_IN_FRMR", nil
	case troubleMismatch:
		c.Patient.FamilyName += "-Другая"
		expect, code, regs = Rejected, "PATIENT_IDENTITY_MISMATCH", nil
	}
	body, _ := json.Marshal(c)
	ev := g.event(topics.RMISCase, key, "ru.egisz.rmis.case.v1", "case", body, expect, code, regs)
	if trouble == 0 {
		g.cases = append(g.cases, sentCase{patient: pi, body: body, version: 1, ext: ext, mo: d.mo, doctor: di})
		if len(g.cases) > 5000 {
			g.cases = g.cases[1:]
		}
	}
	return ev
}

func (g *Generator) caseBody(p person, d doctor, ext string, version int64, diags []string) topics.CaseEvent {
	c := topics.CaseEvent{
		CaseID:  topics.ID{Root: d.mo + ".100.1.1.15", Extension: ext},
		Version: version, UpdatedAt: g.at(-time.Hour), Status: "closed", Type: "outpatient",
		OpenedAt: g.at(-72 * time.Hour), ClosedAt: g.at(-2 * time.Hour), MOOID: d.mo,
		Patient: p.patient(), Doctor: d.person2("109"),
		Visits: []topics.Visit{{ID: "V-1", At: g.at(-71 * time.Hour), Doctor: d.person2("109")}},
	}
	for i, code := range diags {
		role := "accompanying"
		if i == 0 {
			role = "main"
		}
		c.Diagnoses = append(c.Diagnoses, topics.Diagnosis{Code: code, Role: role})
	}
	return c
}

func (g *Generator) duplicate() Event {
	c := g.cases[g.rnd.IntN(len(g.cases))]
	return g.event(topics.RMISCase, g.patients[c.patient].snils, "ru.egisz.rmis.case.v1", "case", c.body, Duplicate, "", nil)
}

// update changes a sent case: with a higher version it is an update, else
// a conflict.
func (g *Generator) update(conflict bool) Event {
	i := g.rnd.IntN(len(g.cases))
	c := &g.cases[i]
	version := c.version + 1
	if conflict {
		version = c.version
	}
	var body topics.CaseEvent
	_ = json.Unmarshal(c.body, &body)
	body.Version = version
	body.Diagnoses = append(body.Diagnoses, topics.Diagnosis{Code: pick(g.rnd, icd10), Role: "complication"})
	b, _ := json.Marshal(body)
	if conflict {
		return g.event(topics.RMISCase, g.patients[c.patient].snils, "ru.egisz.rmis.case.v1", "case", b, Conflict, "DEDUP_CONFLICT", nil)
	}
	c.version, c.body = version, b
	return g.event(topics.RMISCase, g.patients[c.patient].snils, "ru.egisz.rmis.case.v1", "case", b, Update, "", []string{string(topics.RegistryIEMK)})
}

// document is a signed СЭМД (signing): the doctor's and the
// organization's signatures over a CDA of 10 to 20 KiB. expired signs it
// with a certificate of the doctor's that ended a month ago.
func (g *Generator) document(expired bool) Event {
	p := g.patients[g.rnd.IntN(len(g.patients))]
	_, d := g.clinicDoctor()
	g.seq++
	code, expect, regs := "", Accepted, []string{string(topics.RegistryREMD)}
	if expired { // signed an hour ago with a certificate that ended a month ago
		code, expect, regs = "SIGNED_OUTSIDE_CERT_VALIDITY", Rejected, nil
	}
	doc := topics.DocumentEvent{
		Kind: pick(g.rnd, semdKinds), LocalUID: g.id(),
		DocumentID: topics.ID{Root: d.mo + ".100.1.1.51", Extension: fmt.Sprintf("DOC-%d", g.seq)},
		SetID:      topics.ID{Root: d.mo + ".100.1.1.50", Extension: fmt.Sprintf("SET-%d", g.seq)},
		Version:    1, CreatedAt: g.at(-2 * time.Hour), MOOID: d.mo, Patient: p.patient(),
		Signers: []topics.Signer{
			{Role: "doctor", Person: ptr(d.person2("109")), SignedAt: g.at(-time.Hour)},
			{Role: "organization", SignedAt: g.at(-time.Hour + 5*time.Minute)},
		},
		Diagnoses: []topics.Diagnosis{{Code: pick(g.rnd, icd10), Role: "main"}},
	}
	if err := g.sig.sign(context.Background(), &doc, d, expired, 10<<10+g.rnd.IntN(10<<10)); err != nil {
		// Only a broken embedded test PKI gets here (its tests would
		// fail): the document goes unsigned, and the gateway refuses it.
		code, expect, regs = reasons.FieldRequired, Rejected, nil
	}
	body, _ := json.Marshal(doc)
	return g.event(topics.RMISDocument, p.snils, "ru.egisz.rmis.document.v1", "document", body, expect, code, regs)
}

func ptr[T any](v T) *T { return &v }

func (g *Generator) lab() Event {
	p := g.patients[g.rnd.IntN(len(g.patients))]
	validator := g.doctors[9+10*g.rnd.IntN(doctors/10)] // every tenth works at the lab
	g.seq++
	res := topics.LabResultEvent{
		ResultID: topics.ID{Root: labOID + ".100.3.1.52", Extension: fmt.Sprintf("LR-%d", g.seq)},
		Referral: topics.ID{Root: mos[0] + ".100.1.1.53", Extension: fmt.Sprintf("REF-%d", g.seq)},
		Version:  1, CompletedAt: g.at(-3 * time.Hour), LabOID: labOID, Patient: p.patient(),
		Validator: validator.person2("76"),
		Sample:    topics.Sample{ID: topics.ID{Root: labOID + ".100.3.1.66", Extension: fmt.Sprintf("S-%d", g.seq)}, MaterialCode: "1", CollectedAt: g.at(-8 * time.Hour)},
		Tests: []topics.LabTest{{Code: pick(g.rnd, labTestCodes), Name: "Гемоглобин общий в крови", Value: strconv.Itoa(100 + g.rnd.IntN(60)),
			ValueType: "numeric", Unit: "г/л", ReferenceRange: "120-140", Interpretation: "N"}},
	}
	body, _ := json.Marshal(res)
	return g.event(topics.LabResult, p.snils, "ru.egisz.lab.result.v1", "lab_result", body, Accepted, "",
		[]string{string(topics.RegistryIEMK)})
}

func (g *Generator) prescription() Event {
	pi := g.rnd.IntN(len(g.patients))
	p := g.patients[pi]
	_, d := g.clinicDoctor()
	g.seq++
	rx := rxIssued{patient: pi, series: region + "-26", number: fmt.Sprintf("%09d", g.seq), qty: float64(1 + g.rnd.IntN(3)), at: g.n}
	ev := topics.PrescriptionEvent{
		Action: "issued", Number: rx.number, Series: rx.series, Form: "107-1/у", IssuedAt: g.at(-time.Hour),
		ValidUntil: topics.Date(g.cfg.Now.In(datetime.Moscow).AddDate(0, 0, 30).Format("2006-01-02")),
		Drug:       topics.Drug{Name: pick(g.rnd, drugs), Form: "таблетки", Dose: "500 мг"},
		Quantity:   topics.Quantity{Value: rx.qty, Unit: "упаковка"}, Signa: "по 1 таблетке 2 раза в день",
		Patient: p.patient(), Doctor: d.person2("109"), MOOID: d.mo, RegionCode: region,
	}
	g.rx = append(g.rx, rx)
	body, _ := json.Marshal(ev)
	return g.event(topics.RMISPrescription, p.snils, "ru.egisz.rmis.prescription.v1", "prescription", body, Accepted, "", []string{string(topics.RegistryERX)})
}

// dispensation dispenses the oldest prescription still open, in full,
// dispenseGap events or more after it was issued.
func (g *Generator) dispensation() Event {
	rx := g.rx[0]
	g.rx = g.rx[1:]
	p := g.patients[rx.patient]
	g.seq++
	d := topics.DispensationEvent{
		DispensationID: fmt.Sprintf("APT-%d", g.seq), PrescriptionNumber: rx.number, PrescriptionSeries: rx.series,
		PharmacyChain: pharmacy, PharmacyID: pharmacy + "-0001", Quantity: topics.Quantity{Value: rx.qty, Unit: "упаковка"},
		DispensedAt: g.at(-time.Minute), Patient: p.patient(),
	}
	body, _ := json.Marshal(d)
	return g.event(topics.PharmacyDispense, p.snils, "ru.egisz.pharmacy.dispense.v1", "dispensation", body, Accepted, "", []string{string(topics.RegistryERX)})
}
