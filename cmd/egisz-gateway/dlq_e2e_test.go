package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/dlq"
	"github.com/egisz-gateway/egisz-gateway/dlq/adminapi"
	"github.com/egisz-gateway/egisz-gateway/internal/emulator"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// dlqStack is the whole gateway in-process with the admin API on, and
// what a test needs to drive the CLI and the API against it.
type dlqStack struct {
	ctx    context.Context
	cl     *kgo.Client
	em     *registryEmulator
	status *statusReader
	api    string // http://127.0.0.1:port
	getenv env
	prefix string
	// seen collects every masked output, to search for personal data.
	seen bytes.Buffer
}

const (
	tokViewer   = "viewer-token-1"
	tokOperator = "operator-token-2"
	tokAuditor  = "auditor-token-3"
)

func startDLQStack(t *testing.T) *dlqStack {
	kc, ctx, cl := forwardCluster(t)
	seedReferences(t, ctx, cl, kc.Prefix)
	em := startTestEmulator(t)
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, []byte("# name role credential\n"+
		"vera viewer token:"+tokViewer+"\n"+
		"oleg operator token:"+tokOperator+"\n"+
		fmt.Sprintf("anna auditor sha256:%x\n", sha256Sum(tokAuditor))), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := forwardConfig(kc, em)
	cfg.Admin.Enabled, cfg.Admin.Listen, cfg.Admin.UsersFile = true, "127.0.0.1:0", users
	w := startWorkers(t, kc, cfg, newNormalize, forwardStages, adminAPI)
	var addr string
	for _, x := range w.workers {
		if a, ok := x.(*adminWorker); ok {
			addr = a.Addr()
		}
	}
	vars := map[string]string{
		"EGISZ_KAFKA_BROKERS": strings.Join(kc.Brokers, ","), "EGISZ_TOPIC_PREFIX": kc.Prefix,
		"EGISZ_RETRY_TIERS": "1s,2s,3s", "EGISZ_ACTOR": "cli-operator",
	}
	return &dlqStack{ctx: ctx, cl: cl, em: em, status: newStatusReader(t, kc), api: "http://" + addr,
		getenv: func(k string) string { return vars[k] }, prefix: kc.Prefix}
}

// cli runs `egisz-gateway dlq args…` and returns its output; a non-zero
// exit fails the test unless wantCode says otherwise.
func (s *dlqStack) cli(t *testing.T, wantCode int, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(s.ctx, append([]string{"dlq"}, args...), &out, &errb, s.getenv)
	if code != wantCode {
		t.Fatalf("dlq %v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, wantCode, out.String(), errb.String())
	}
	if !slicesContain(args, "--reveal") {
		s.seen.Write(out.Bytes())
		s.seen.Write(errb.Bytes())
	}
	return out.String()
}

func slicesContain(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// call calls the admin API and decodes a 200 answer into out.
func (s *dlqStack) call(t *testing.T, method, path, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(s.ctx, method, s.api+adminapi.Base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(path, "reveal=true") {
		s.seen.Write(b)
	}
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func (s *dlqStack) listJSON(t *testing.T, args ...string) dlq.ListResult {
	t.Helper()
	var res dlq.ListResult
	out := s.cli(t, 0, append([]string{"list", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	return res
}

// waitOutcome waits until the event has the outcome among its statuses.
func (s *dlqStack) waitOutcome(t *testing.T, ceID, outcome string) {
	t.Helper()
	for {
		s.status.mu.Lock()
		outs := append([]string(nil), s.status.outs[ceID]...)
		s.status.mu.Unlock()
		if slicesContain(outs, outcome) {
			return
		}
		if s.ctx.Err() != nil {
			t.Fatalf("%s: statuses %v, never %s", ceID, outs, outcome)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *dlqStack) audit(t *testing.T) []topics.AuditRecord {
	t.Helper()
	var res struct{ Records []topics.AuditRecord }
	if code := s.call(t, "GET", "/audit?limit=1000", tokAuditor, nil, &res); code != 200 {
		t.Fatalf("auditor reads the audit log: %d", code)
	}
	return res.Records
}

func hasAudit(recs []topics.AuditRecord, actor, action, outcome string) bool {
	for _, r := range recs {
		if r.Actor == actor && r.Action == action && r.Outcome == outcome {
			return true
		}
	}
	return false
}

// TestDLQOperationsThroughCLIAndAPI: records rejected by ИЭМК and by the
// normalize stage are listed, shown and, once the cause is fixed,
// replayed through the CLI and the admin API; a replayed record reaches
// the registry exactly once, and a second replay sends nothing; a record
// that fails again is parked with replay_count 1; purge respects the
// minimum age and a reason; callers without the right credentials or
// role are refused and audited; and no masked output holds a СНИЛС.
func TestDLQOperationsThroughCLIAndAPI(t *testing.T) {
	s := startDLQStack(t)
	var snilses, rejectedIDs, invalidIDs []string
	badIEMK := map[string]string{}
	var recs []*kgo.Record
	for i := 0; i < 6; i++ {
		snils := ident.MakeSNILS(310_000_000 + i*11)
		snilses = append(snilses, snils)
		ceID := uuidFor(fmt.Sprintf("%s dlq case %d", s.prefix, i))
		if i < 4 { // ИЭМК does not know these patients yet
			badIEMK[snils] = "XDSUnknownPatientId"
			rejectedIDs = append(rejectedIDs, ceID)
		}
		recs = append(recs, caseRecord(t, s.prefix, snils, fmt.Sprintf("TAP-DLQ-%d", i), 1, false, ceID))
	}
	for i := 0; i < 3; i++ { // a wrong check number: the normalize stage parks these
		good := ident.MakeSNILS(320_000_000 + i*13)
		bad := good[:9] + fmt.Sprintf("%02d", (int(good[9]-'0')*10+int(good[10]-'0')+1)%100)
		snilses = append(snilses, bad)
		ceID := uuidFor(fmt.Sprintf("%s dlq invalid %d", s.prefix, i))
		invalidIDs = append(invalidIDs, ceID)
		recs = append(recs, caseRecord(t, s.prefix, bad, fmt.Sprintf("TAP-BAD-%d", i), 1, false, ceID))
	}
	s.em.SetFaults(emulator.IEMK, emulator.Faults{Reject: badIEMK})
	produceAll(t, s.ctx, s.cl, recs)
	for _, id := range rejectedIDs {
		s.waitOutcome(t, id, "iemk:rejected")
	}
	for _, id := range invalidIDs {
		s.waitOutcome(t, id, "rejected")
	}

	// list: counts by reason, paging, filters.
	all := s.listJSON(t)
	if all.Total != 7 || all.ByReason["XDSUnknownPatientId"] != 4 || all.ByReason["SNILS_CHECKSUM"] != 3 || all.ByState["parked"] != 7 {
		t.Fatalf("list: total %d by reason %v by state %v; want 7: 4 XDSUnknownPatientId, 3 SNILS_CHECKSUM, all parked", all.Total, all.ByReason, all.ByState)
	}
	page1 := s.listJSON(t, "--topic", topics.RegistryDLQ(topics.RegistryIEMK), "--page-size", "3")
	page2 := s.listJSON(t, "--topic", topics.RegistryDLQ(topics.RegistryIEMK), "--page-size", "3", "--after", page1.Next)
	if len(page1.Records) != 3 || page1.Next == "" || len(page2.Records) != 1 || page2.Next != "" || page1.Total != 4 {
		t.Errorf("paging: %d records then %d (next %q, %q), total %d; want 3 then 1", len(page1.Records), len(page2.Records), page1.Next, page2.Next, page1.Total)
	}
	formatted := snilses[0][:3] + "-" + snilses[0][3:6] + "-" + snilses[0][6:9] + " " + snilses[0][9:]
	byPatient := s.listJSON(t, "--patient", formatted)
	if byPatient.Total != 1 || byPatient.Records[0].Reason != "XDSUnknownPatientId" || byPatient.Records[0].Destination != "iemk" {
		t.Errorf("list --patient %s: %+v; want the one ИЭМК rejection", ident.MaskSNILS(formatted), byPatient.Records)
	}
	if r := s.listJSON(t, "--reason", "SNILS_CHECKSUM", "--owner", "clinic", "--since", "1h"); r.Total != 3 {
		t.Errorf("list --reason SNILS_CHECKSUM --owner clinic --since 1h: %d records, want 3", r.Total)
	}
	if r := s.listJSON(t, "--until", "2020-01-01T00:00:00Z"); r.Total != 0 {
		t.Errorf("list --until 2020: %d records, want 0", r.Total)
	}
	text := s.cli(t, 0, "list")
	if !strings.Contains(text, "XDSUnknownPatientId 4") || !strings.Contains(text, "7 records match") {
		t.Errorf("list text lacks the counts:\n%s", text)
	}

	// show: masked, then revealed.
	id := byPatient.Records[0].ID
	shown := s.cli(t, 0, "show", id)
	for _, want := range []string{"XDSUnknownPatientId", "forward", "iemk", ident.MaskSNILS(snilses[0]), `"family_name": "И***"`, "ce_id: "} {
		if !strings.Contains(shown, want) {
			t.Errorf("show %s lacks %q:\n%s", id, want, shown)
		}
	}
	revealed := s.cli(t, 0, "show", "--reveal", "--json", id)
	if !strings.Contains(revealed, snilses[0]) || !strings.Contains(revealed, "Иванова") {
		t.Errorf("show --reveal does not show the patient")
	}

	// replay: a dry run moves nothing; after the fix, each record reaches
	// ИЭМК exactly once, and a second replay sends nothing.
	dry := s.cli(t, 0, "replay", "--topic", topics.RegistryDLQ(topics.RegistryIEMK), "--dry-run")
	if !strings.Contains(dry, "would replay 4 of 4") || !strings.Contains(dry, topics.Outbound(topics.RegistryIEMK)+" 4") {
		t.Errorf("dry run:\n%s", dry)
	}
	time.Sleep(300 * time.Millisecond)
	if st := s.em.Stats(emulator.IEMK); st.Registered != 2 {
		t.Errorf("after the dry run ИЭМК registered %d, want the 2 good cases", st.Registered)
	}
	s.em.SetFaults(emulator.IEMK, emulator.Faults{})
	out := s.cli(t, 0, "replay", "--topic", topics.RegistryDLQ(topics.RegistryIEMK), "--why", "ИЭМК knows the patients now", "--rate", "20")
	if !strings.Contains(out, "replayed 4 of 4") {
		t.Errorf("replay:\n%s", out)
	}
	for _, id := range rejectedIDs {
		s.waitOutcome(t, id, "iemk:registered")
	}
	again := s.cli(t, 0, "replay", "--topic", topics.RegistryDLQ(topics.RegistryIEMK))
	if !strings.Contains(again, "replayed 0 of 4") || !strings.Contains(again, "already replayed 4") {
		t.Errorf("second replay:\n%s", again)
	}
	time.Sleep(time.Second)
	st := s.em.Stats(emulator.IEMK)
	for _, id := range rejectedIDs {
		if st.ByKey[id] != 1 {
			t.Errorf("%s registered %d times at ИЭМК, want 1", id, st.ByKey[id])
		}
	}
	if st.Registered != 6 {
		t.Errorf("ИЭМК registered %d cases, want 6", st.Registered)
	}
	if r := s.listJSON(t, "--topic", topics.RegistryDLQ(topics.RegistryIEMK)); r.ByState["replayed"] != 4 || r.Records[0].Mark == nil || !strings.HasPrefix(r.Records[0].Mark.To, topics.Outbound(topics.RegistryIEMK)+"/") {
		t.Errorf("after replay: by state %v, first mark %+v; want 4 replayed, marked with where they went", r.ByState, r.Records[0].Mark)
	}

	// The API: a viewer lists but may not reveal or replay; no token or a
	// wrong one is refused; every refusal is audited (an address's
	// unauthenticated ones at most once a minute, with their count).
	var viewerList dlq.ListResult
	if code := s.call(t, "GET", "/dlq/records?topic="+topics.DLQIngress, tokViewer, nil, &viewerList); code != 200 || viewerList.Total != 3 {
		t.Errorf("viewer lists the ingress DLQ: %d, %d records; want 200, 3", code, viewerList.Total)
	}
	ingressID := viewerList.Records[0].ID
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		want                      int
	}{
		{"viewer reveals", "GET", "/dlq/records/" + ingressID + "?reveal=true", tokViewer, nil, 403},
		{"viewer replays", "POST", "/dlq/replay", tokViewer, map[string]any{"filter": map[string]any{"ids": []string{ingressID}}}, 403},
		{"viewer purges", "POST", "/dlq/purge", tokViewer, map[string]any{"reason": "x", "force": true}, 403},
		{"viewer reads the audit log", "GET", "/audit", tokViewer, nil, 403},
		{"auditor replays", "POST", "/dlq/replay", tokAuditor, map[string]any{}, 403},
		{"no token", "GET", "/dlq/records", "", nil, 401},
		{"wrong token", "POST", "/dlq/replay", "operator-token-3", map[string]any{}, 401},
		{"viewer shows masked", "GET", "/dlq/records/" + ingressID, tokViewer, nil, 200},
		{"auditor reveals", "GET", "/dlq/records/" + ingressID + "?reveal=true", tokAuditor, nil, 200},
		{"unknown record", "GET", "/dlq/records/" + topics.DLQIngress + "/0/999999", tokViewer, nil, 404},
		{"not a DLQ", "GET", "/dlq/records?topic=egisz.status.v1", tokViewer, nil, 400},
		{"purge without a reason", "POST", "/dlq/purge", tokOperator, map[string]any{"force": true}, 400},
	} {
		if got := s.call(t, tc.method, tc.path, tc.token, tc.body, nil); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	audit := s.audit(t)
	for _, want := range []struct{ actor, action, outcome string }{
		{"vera", "reveal", "denied"}, {"vera", "replay", "denied"}, {"vera", "purge", "denied"}, {"vera", "audit", "denied"},
		// Refusals of unauthenticated calls from one address are audited
		// once a minute with their count: the second is in the next record.
		{"anna", "replay", "denied"}, {"unauthenticated", "list", "denied"},
		{"anna", "reveal", "ok"}, {cliOperator, "reveal", "ok"}, {cliOperator, "replay", "ok"},
	} {
		if !hasAudit(audit, want.actor, want.action, want.outcome) {
			t.Errorf("audit log lacks %s %s %s", want.actor, want.action, want.outcome)
		}
	}
	for _, r := range audit {
		if r.Action == "replay" && r.Actor == cliOperator && !r.DryRun && r.Count == 4 && r.Reason != "ИЭМК knows the patients now" {
			t.Errorf("replay audit record %+v lacks the operator's reason", r)
		}
	}

	// An operator replays one ingress record by id through the API: the
	// СНИЛС is still wrong, so it is parked again with replay_count 1.
	var rep dlq.ReplayResult
	if code := s.call(t, "POST", "/dlq/replay", tokOperator, map[string]any{"filter": map[string]any{"ids": []string{ingressID}}, "reason": "try again"}, &rep); code != 200 || rep.Replayed != 1 {
		t.Fatalf("operator replays %s: %d, %+v", ingressID, code, rep)
	}
	var reparked dlq.ListResult
	for reparked.Total < 4 && s.ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		s.call(t, "POST", "/dlq/list", tokOperator, map[string]any{"filter": map[string]any{"topics": []string{topics.DLQIngress}}}, &reparked)
	}
	replays := map[int]int{}
	for _, v := range reparked.Records {
		replays[v.ReplayCount]++
	}
	if reparked.Total != 4 || replays[1] != 1 || reparked.ByState["replayed"] != 1 {
		t.Errorf("after replaying a still-invalid record: %d records, replay counts %v, states %v; want 4, one with replay_count 1, one replayed", reparked.Total, replays, reparked.ByState)
	}

	// purge: the minimum age holds unless forced; purged records leave the
	// listing; those at a partition's start are deleted from Kafka.
	var young dlq.PurgeResult
	s.call(t, "POST", "/dlq/purge", tokOperator, map[string]any{"filter": map[string]any{"topics": []string{topics.DLQIngress}}, "reason": "old test data"}, &young)
	if young.Purged != 0 || young.TooYoung != 4 {
		t.Errorf("purge without force: %+v; want 0 purged, 4 too young", young)
	}
	var forced dlq.PurgeResult
	s.call(t, "POST", "/dlq/purge", tokOperator, map[string]any{"filter": map[string]any{"topics": []string{topics.DLQIngress}}, "reason": "clinic resent them", "force": true}, &forced)
	if forced.Purged != 4 || forced.Deleted != 4 {
		t.Errorf("forced purge: %+v; want 4 purged and deleted", forced)
	}
	out = s.cli(t, 0, "purge", "--topic", topics.RegistryDLQ(topics.RegistryIEMK), "--why", "registered after replay", "--older-than", "1ms")
	if !strings.Contains(out, "purged 4 of 4") {
		t.Errorf("cli purge:\n%s", out)
	}
	if r := s.listJSON(t); r.Total != 0 {
		t.Errorf("after purging: %d records listed, want 0", r.Total)
	}
	// Every record of both DLQs was purged, so each partition's purged
	// records start it and all were deleted from Kafka.
	if r := s.listJSON(t, "--state", "purged"); r.Total != 0 {
		t.Errorf("purged records still in Kafka: %d, want 0", r.Total)
	}
	s.cli(t, 2, "show", ingressID)
	audit = s.audit(t)
	if !hasAudit(audit, "oleg", "purge", "ok") || !hasAudit(audit, cliOperator, "purge", "ok") || !hasAudit(audit, "oleg", "replay", "ok") {
		t.Errorf("audit log lacks the purges and the API replay")
	}

	// No masked output holds a СНИЛС, a name or a birth date.
	seen := s.seen.String()
	for _, sn := range append(snilses, "12345678964") {
		for _, spelled := range []string{sn, sn[:3] + "-" + sn[3:6] + "-" + sn[6:9] + " " + sn[9:], sn[:9] + " " + sn[9:]} {
			if strings.Contains(seen, spelled) {
				t.Errorf("masked output holds the СНИЛС %s", ident.MaskSNILS(sn))
			}
		}
	}
	for _, pd := range []string{"Иванова", "Мария", "Петровна", "1985-03-21", "P-000123", "5056410878123457"} {
		if strings.Contains(seen, pd) {
			t.Errorf("masked output holds personal data %q", pd)
		}
	}
	if s.seen.Len() < 10_000 {
		t.Errorf("only %d bytes of output searched; the search proves little", s.seen.Len())
	}
}

func sha256Sum(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// cliOperator is the audit log's name for the CLI of these tests: they run
// on a broker without SASL, with EGISZ_ACTOR set.
const cliOperator = "cli-operator (no Kafka credentials)"

// TestCLIActorIsTheKafkaUser: the audit log's name for a command run
// against Kafka comes from the Kafka credentials, with what the caller says
// beside it, and never from $USER.
func TestCLIActorIsTheKafkaUser(t *testing.T) {
	for _, tc := range []struct {
		name, flag, envActor, kafkaUser, want string
	}{
		{"kafka user", "", "", "ops-svc", "kafka:ops-svc"},
		{"kafka user and a flag", "ivanov", "", "ops-svc", "kafka:ops-svc (says ivanov)"},
		{"kafka user and the environment", "", "petrov", "ops-svc", "kafka:ops-svc (says petrov)"},
		{"the flag wins over the environment", "ivanov", "petrov", "", "ivanov (no Kafka credentials)"},
		{"nothing", "", "", "", "unnamed (no Kafka credentials, no --actor)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				switch k {
				case "EGISZ_ACTOR":
					return tc.envActor
				case "USER":
					return "mallory"
				}
				return ""
			}
			if got := cliActor(tc.flag, getenv, tc.kafkaUser); got != tc.want {
				t.Errorf("actor %q, want %q", got, tc.want)
			}
		})
	}
}
