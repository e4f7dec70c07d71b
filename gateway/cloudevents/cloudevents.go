// Package cloudevents reads and writes the CloudEvents headers of the
// records the stages handle (the Kafka binding's binary mode; the names
// are the catalog's, in package topics): reading a header, the headers a
// record the gateway writes starts with, and those it carries over from
// the event behind it.
package cloudevents

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Get returns the first value of header k in hs, "" when there is none.
func Get(hs []kgo.RecordHeader, k string) string {
	v, _ := Lookup(hs, k)
	return v
}

// Lookup returns the first value of header k in hs and whether it is
// there at all (an empty value is there).
func Lookup(hs []kgo.RecordHeader, k string) (string, bool) {
	for _, h := range hs {
		if h.Key == k {
			return string(h.Value), true
		}
	}
	return "", false
}

// Map returns the headers by name; of a name given twice, the last value.
func Map(hs []kgo.RecordHeader) map[string]string {
	m := make(map[string]string, len(hs))
	for _, h := range hs {
		m[h.Key] = string(h.Value)
	}
	return m
}

// Start returns the headers a record the gateway writes starts with: the
// spec version, its type ceType and the JSON content type.
func Start(ceType string) []kgo.RecordHeader {
	return []kgo.RecordHeader{
		{Key: topics.HeaderSpecVersion, Value: []byte(topics.CloudEventsVersion)},
		{Key: topics.HeaderType, Value: []byte(ceType)},
		{Key: topics.HeaderContentType, Value: []byte(topics.ContentJSON)},
	}
}

// Carry appends to hs the headers a record derived from an event carries
// over from it, in this order: its id, source and time, and its trace
// (traceparent, tracestate). value says, for each name, the value to
// carry and whether to carry it at all.
func Carry(hs []kgo.RecordHeader, value func(name string) (string, bool)) []kgo.RecordHeader {
	for _, k := range [...]string{topics.HeaderID, topics.HeaderSource, topics.HeaderTime, topics.HeaderTraceparent, topics.HeaderTracestate} {
		if v, ok := value(k); ok {
			hs = append(hs, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
	}
	return hs
}
