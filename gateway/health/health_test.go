package health

import (
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
