package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
)

func cmdReasons(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("reasons [flags]", "Prints the reason catalog: every code the gateway gives for a rejected, parked or retried event,\nwho must act (owner), what the gateway does (park, retry, reconcile), and the text in Russian and English.", stdout, stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	owner := fs.String("owner", "", "only the reasons of this owner (clinic, mis, integrator, registry, gateway)")
	if code, stop := parse(fs, args); stop {
		return code
	}
	var rows []reasons.Reason
	for _, r := range reasons.Default().All() {
		if *owner == "" || string(r.Owner) == *owner {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		fmt.Fprintf(stderr, "egisz-gateway: no reasons with owner %q\n", *owner)
		return exitUsage
	}
	if *asJSON {
		type row struct {
			Code      string `json:"code"`
			Owner     string `json:"owner"`
			Action    string `json:"action"`
			Retryable bool   `json:"retryable"`
			RU        string `json:"message_ru"`
			EN        string `json:"message_en"`
		}
		out := make([]row, len(rows))
		for i, r := range rows {
			out[i] = row{r.Code, string(r.Owner), string(r.Action), r.Retryable(), r.RU, r.EN}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
			return exitFailed
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CODE\tOWNER\tACTION\tTEXT (RU / EN)")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s / %s\n", r.Code, r.Owner, r.Action, r.RU, strings.TrimSpace(r.EN))
	}
	_ = tw.Flush()
	return exitOK
}
