// Package lag exports, at scrape time, how far behind the gateway's
// consumer groups are (per group, topic and partition) and how many
// records wait in the dead-letter and retry topics, read through the
// Kafka admin API. Answers are cached briefly, so several Prometheus
// servers scraping at once cost the cluster one round of requests.
package lag

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

// cacheFor is how long one answer serves scrapes.
const cacheFor = 5 * time.Second

// Collector is a prometheus.Collector over the admin API.
type Collector struct {
	adm    *kadm.Client
	groups []string
	depth  map[string]string // topic -> role, for the topics whose size is their backlog
	log    *slog.Logger

	lagDesc, depthDesc, errDesc *prometheus.Desc

	mu     sync.Mutex
	at     time.Time
	cached []prometheus.Metric
}

// Groups returns the gateway's consumer groups under prefix, with these
// retry tiers.
func Groups(prefix string, tiers []time.Duration) []string {
	var out []string
	for _, g := range topics.Groups(tiers) {
		out = append(out, prefix+g)
	}
	return out
}

// NewCollector watches groups and the DLQ and retry topics of cat.
func NewCollector(adm *kadm.Client, cat topics.Catalog, groups []string, log *slog.Logger) *Collector {
	c := &Collector{adm: adm, groups: groups, depth: map[string]string{}, log: log,
		lagDesc: prometheus.NewDesc("egisz_consumer_lag",
			"Records a gateway consumer group has yet to process, per group, topic and partition (end offset minus committed offset).",
			[]string{"group", "topic", "partition"}, nil),
		depthDesc: prometheus.NewDesc("egisz_topic_records",
			"Records held in a dead-letter or retry topic (end minus start offsets): what waits there.",
			[]string{"topic", "role"}, nil),
		errDesc: prometheus.NewDesc("egisz_lag_scrape_errors",
			"1 when the last reading of lag or topic sizes failed (the cluster did not answer), else 0.",
			nil, nil),
	}
	for _, t := range cat {
		if t.Role == topics.RoleDLQ || t.Role == topics.RoleRetry {
			c.depth[t.Name] = string(t.Role)
		}
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lagDesc
	ch <- c.depthDesc
	ch <- c.errDesc
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if time.Since(c.at) > cacheFor {
		c.cached, c.at = c.read(), time.Now()
	}
	ms := c.cached
	c.mu.Unlock()
	for _, m := range ms {
		ch <- m
	}
}

func (c *Collector) read() []prometheus.Metric {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	var out []prometheus.Metric
	failed := 0.0
	lags, err := c.adm.Lag(ctx, c.groups...)
	if err != nil {
		failed = 1
		c.log.Warn("consumer lag not read", "err", err)
	}
	lags.Each(func(l kadm.DescribedGroupLag) {
		for topic, ps := range l.Lag {
			for p, m := range ps {
				if m.Lag < 0 {
					continue
				}
				out = append(out, prometheus.MustNewConstMetric(c.lagDesc, prometheus.GaugeValue, float64(m.Lag), l.Group, topic, strconv.Itoa(int(p))))
			}
		}
	})
	names := make([]string, 0, len(c.depth))
	for t := range c.depth {
		names = append(names, t)
	}
	starts, err1 := c.adm.ListStartOffsets(ctx, names...)
	ends, err2 := c.adm.ListEndOffsets(ctx, names...)
	if err1 != nil || err2 != nil {
		failed = 1
		c.log.Warn("dead-letter and retry topic sizes not read", "start_err", err1, "end_err", err2)
	} else {
		size := map[string]int64{}
		ends.Each(func(o kadm.ListedOffset) {
			if s, ok := starts.Lookup(o.Topic, o.Partition); ok && o.Err == nil && s.Err == nil {
				size[o.Topic] += o.Offset - s.Offset
			}
		})
		for t, role := range c.depth {
			out = append(out, prometheus.MustNewConstMetric(c.depthDesc, prometheus.GaugeValue, float64(size[t]), t, role))
		}
	}
	return append(out, prometheus.MustNewConstMetric(c.errDesc, prometheus.GaugeValue, failed))
}
