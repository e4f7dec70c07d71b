package dlq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

// PurgeRequest says what to remove.
type PurgeRequest struct {
	Filter Filter
	MinAge time.Duration // records younger than this stay unless Force; 0: the configured default
	Force  bool
	Reason string // required: why the records may go
	DryRun bool
}

// PurgeResult says what a purge did.
type PurgeResult struct {
	DryRun   bool           `json:"dry_run"`
	Matched  int            `json:"matched"`
	Purged   int            `json:"purged"`    // marked purged; on a dry run, would be
	TooYoung int            `json:"too_young"` // left alone: younger than the minimum age
	Deleted  int            `json:"deleted"`   // records deleted from Kafka (see Purge)
	ByReason map[string]int `json:"by_reason"`
}

// Purge marks the records the filter selects as purged: they leave the
// listings and their content is no longer shown. Where purged records
// make up the start of a partition, they are deleted from Kafka
// (DeleteRecords); the others go with the topic's retention. Records
// younger than the minimum age are left alone unless forced.
func (s *Service) Purge(ctx context.Context, a Actor, req PurgeRequest) (PurgeResult, error) {
	res := PurgeResult{DryRun: req.DryRun, ByReason: map[string]int{}}
	if err := req.Filter.Check(); err != nil {
		return res, badRequest(err)
	}
	if strings.TrimSpace(req.Reason) == "" {
		return res, badRequest(errors.New("purge needs a reason: say why these records may go"))
	}
	filter := req.Filter.String()
	if err := s.authorize(ctx, a, ActPurge, filter); err != nil {
		return res, err
	}
	minAge := req.MinAge
	if minAge <= 0 {
		minAge = s.cfg.PurgeMinAge
	}
	tx, marks, done, err := s.beginOps(ctx, req.DryRun)
	if err != nil {
		return res, err
	}
	defer done()
	now := s.cfg.Now()
	var ids []ID
	err = s.scan(ctx, req.Filter, marks, func(e *Entry) {
		res.Matched++
		switch {
		case e.State() == StatePurged:
		case !req.Force && now.Sub(e.ParkedAt) < minAge:
			res.TooYoung++
		default:
			ids = append(ids, e.ID)
			res.ByReason[e.Reason]++
		}
	})
	if err != nil {
		return res, err
	}
	audit := topics.AuditRecord{Action: string(ActPurge), Filter: filter, Reason: req.Reason, DryRun: req.DryRun}
	if !req.Force {
		audit.Filter += fmt.Sprintf(" older_than=%s", minAge)
	} else {
		audit.Filter += " force"
	}
	if req.DryRun {
		res.Purged = len(ids)
		audit.Count, audit.Outcome = res.Purged, "ok"
		return res, s.Audit(ctx, a, audit)
	}
	runErr := s.markPurged(ctx, tx, ids, a, req.Reason, &res)
	if runErr == nil && len(ids) > 0 {
		for _, id := range ids {
			marks[id] = &Mark{State: StatePurged}
		}
		res.Deleted, runErr = s.trim(ctx, ids, marks)
	}
	audit.Count, audit.Outcome = res.Purged, "ok"
	if runErr != nil {
		audit.Outcome = "failed"
	}
	s.cfg.Log.Info("dead letters purged", "actor", a.Name, "via", a.Via, "filter", filter, "purged", res.Purged, "deleted", res.Deleted, "err", runErr)
	return res, errors.Join(runErr, s.Audit(context.WithoutCancel(ctx), a, audit))
}

func (s *Service) markPurged(ctx context.Context, tx *kgo.Client, ids []ID, a Actor, reason string, res *PurgeResult) error {
	now := s.cfg.Now().UTC()
	var failed firstError
	for start := 0; start < len(ids); start += 1000 {
		end := min(start+1000, len(ids))
		if err := tx.BeginTransaction(); err != nil {
			return fmt.Errorf("purge: begin transaction: %w", err)
		}
		for _, id := range ids[start:end] {
			tx.Produce(ctx, s.markRecord(id, &Mark{State: StatePurged, At: now, Actor: a.Name, Reason: reason}), failed.promise)
		}
		if err := cmp.Or(tx.Flush(ctx), failed.get()); err != nil { // EndTransaction does not flush
			_ = tx.EndTransaction(context.WithoutCancel(ctx), kgo.TryAbort)
			return fmt.Errorf("purge: write marks: %w", fenced(err))
		}
		if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
			_ = tx.EndTransaction(context.WithoutCancel(ctx), kgo.TryAbort)
			return fmt.Errorf("purge: commit marks: %w", fenced(err))
		}
		res.Purged = end
	}
	return nil
}

// trim deletes from Kafka the purged records that begin their partition:
// Kafka deletes a partition's records only from its start.
func (s *Service) trim(ctx context.Context, purged []ID, marks map[ID]*Mark) (int, error) {
	touched := map[string]bool{}
	for _, id := range purged {
		touched[id.Topic] = true
	}
	byPart := map[string]map[int32][]ID{}
	var topicsToRead []string
	for t := range touched {
		topicsToRead = append(topicsToRead, t)
		byPart[t] = map[int32][]ID{}
	}
	err := s.scan(ctx, Filter{Topics: topicsToRead, States: []string{StateParked, StateReplayed, StatePurged}}, marks, func(e *Entry) {
		byPart[e.ID.Topic][e.ID.Partition] = append(byPart[e.ID.Topic][e.ID.Partition], e.ID)
	})
	if err != nil {
		return 0, fmt.Errorf("purge: find what can be deleted: %w", err)
	}
	offsets := kadm.Offsets{}
	deleted := 0
	for t, parts := range byPart {
		for p, ids := range parts {
			slices.SortFunc(ids, cmpID)
			n := 0
			for n < len(ids) && marks[ids[n]] != nil && marks[ids[n]].State == StatePurged {
				n++
			}
			if n > 0 {
				offsets.Add(kadm.Offset{Topic: s.cfg.Prefix + t, Partition: p, At: ids[n-1].Offset + 1})
				deleted += n
			}
		}
	}
	if deleted == 0 {
		return 0, nil
	}
	resp, err := s.adm.DeleteRecords(ctx, offsets)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("purge: delete records: %w", err)
	}
	return deleted, nil
}
