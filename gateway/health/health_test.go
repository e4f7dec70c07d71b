package health

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestProfilesOnlyWhenAskedFor(t *testing.T) {
	ready := NewReadiness()
	ready.Add("always", func() error { return nil })
	reg := prometheus.NewRegistry()
	for _, tc := range []struct {
		name string
		h    http.Handler
		path string
		want int
	}{
		{"plain: metrics", Handler(ready, reg), "/metrics", http.StatusOK},
		{"plain: readyz", Handler(ready, reg), "/readyz", http.StatusOK},
		{"plain: no profile index", Handler(ready, reg), "/debug/pprof/", http.StatusNotFound},
		{"plain: no heap profile", Handler(ready, reg), "/debug/pprof/heap", http.StatusNotFound},
		{"profiles: metrics still", HandlerWithProfiles(ready, reg), "/metrics", http.StatusOK},
		{"profiles: index", HandlerWithProfiles(ready, reg), "/debug/pprof/", http.StatusOK},
		{"profiles: heap", HandlerWithProfiles(ready, reg), "/debug/pprof/heap", http.StatusOK},
		{"profiles: goroutines", HandlerWithProfiles(ready, reg), "/debug/pprof/goroutine?debug=1", http.StatusOK},
		{"profiles: no command line", HandlerWithProfiles(ready, reg), "/debug/pprof/cmdline", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.want {
				t.Errorf("GET %s: %d, want %d", tc.path, rec.Code, tc.want)
			}
		})
	}
}

func TestNotesShowInReadyzWithoutMakingItUnready(t *testing.T) {
	for _, tc := range []struct {
		name, note string
		check      error
		wantCode   int
		wantState  string
	}{
		{"empty note", "", nil, http.StatusOK, "ok"},
		{"a note", "topic t: max.message.bytes is 1000012", nil, http.StatusOK, "topic t: max.message.bytes is 1000012"},
		{"a note beside a failing check", "small", errors.New("not joined"), http.StatusServiceUnavailable, "small"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ready := NewReadiness()
			ready.Add("stage", func() error { return tc.check })
			ready.Note("topic limits", func() string { return tc.note })
			rec := httptest.NewRecorder()
			Handler(ready, prometheus.NewRegistry()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != tc.wantCode {
				t.Errorf("/readyz answered %d, want %d", rec.Code, tc.wantCode)
			}
			var body struct {
				Checks []struct{ Name, State string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, c := range body.Checks {
				if c.Name == "topic limits" {
					found = c.State == tc.wantState
				}
			}
			if !found {
				t.Errorf("/readyz %s lacks topic limits %q", rec.Body.String(), tc.wantState)
			}
		})
	}
}
