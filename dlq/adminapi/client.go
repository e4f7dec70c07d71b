package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/egisz-gateway/egisz-gateway/dlq"
)

// Client calls the admin API: the CLI's way in for an operator who has a
// token but no Kafka credentials.
type Client struct {
	Base  string // https://host:port, without the path
	Token string
	HTTP  *http.Client
}

// List lists records (POST, so a patient key stays out of the URL).
func (c *Client) List(ctx context.Context, q dlq.ListQuery) (dlq.ListResult, error) {
	var res dlq.ListResult
	err := c.call(ctx, http.MethodPost, "/dlq/list", listBody{Filter: toJSON(q.Filter), PageSize: q.PageSize, After: q.After}, &res)
	return res, err
}

// Show shows one record.
func (c *Client) Show(ctx context.Context, id dlq.ID, reveal bool) (dlq.View, error) {
	var v dlq.View
	path := fmt.Sprintf("/dlq/records/%s/%d/%d", url.PathEscape(id.Topic), id.Partition, id.Offset)
	if reveal {
		path += "?reveal=true"
	}
	err := c.call(ctx, http.MethodGet, path, nil, &v)
	return v, err
}

// Replay replays records; the server paces it and answers when done.
func (c *Client) Replay(ctx context.Context, req dlq.ReplayRequest) (dlq.ReplayResult, error) {
	var res dlq.ReplayResult
	err := c.call(ctx, http.MethodPost, "/dlq/replay", replayBody{Filter: toJSON(req.Filter), DryRun: req.DryRun, Rate: req.Rate, Reason: req.Reason}, &res)
	return res, err
}

// Purge purges records.
func (c *Client) Purge(ctx context.Context, req dlq.PurgeRequest) (dlq.PurgeResult, error) {
	var res dlq.PurgeResult
	b := purgeBody{Filter: toJSON(req.Filter), Force: req.Force, Reason: req.Reason, DryRun: req.DryRun}
	if req.MinAge > 0 {
		b.MinAge = req.MinAge.String()
	}
	err := c.call(ctx, http.MethodPost, "/dlq/purge", b, &res)
	return res, err
}

func toJSON(f dlq.Filter) filterJSON {
	out := filterJSON{Filter: f}
	for _, id := range f.IDs {
		out.IDs = append(out.IDs, id.String())
	}
	out.Filter.IDs = nil
	return out
}

// APIError is an answer other than 200.
type APIError struct {
	Status int
	Msg    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("admin API: %d %s: %s", e.Status, http.StatusText(e.Status), e.Msg)
}

// Unwrap maps the status to the dlq package's errors.
func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusForbidden, http.StatusUnauthorized:
		return dlq.ErrDenied
	case http.StatusNotFound:
		return dlq.ErrNotFound
	case http.StatusBadRequest:
		return dlq.ErrBadRequest
	}
	return nil
}

func (c *Client) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Base, "/")+Base+path, rd)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: time.Hour} // a replay is answered when it is done
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("admin API: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error  string          `json:"error"`
			Result json.RawMessage `json:"result"`
		}
		_ = json.Unmarshal(b, &e)
		if len(e.Result) > 0 {
			_ = json.Unmarshal(e.Result, out) // what was done before the failure
		}
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return &APIError{Status: resp.StatusCode, Msg: e.Error}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("admin API: answer: %w", err)
	}
	return nil
}
