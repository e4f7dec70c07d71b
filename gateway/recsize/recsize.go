// Package recsize measures a Kafka record the way the producer and the
// broker do: the bytes of a record batch (magic v2, uncompressed) that
// holds the record alone. A topic's max.message.bytes bounds exactly that,
// so a record whose batch is larger can never be written to the topic,
// whatever the producer does.
package recsize

import "github.com/twmb/franz-go/pkg/kgo"

// BatchOverhead is the size of a record batch (magic v2) with no records:
// base offset, batch length, leader epoch, magic, CRC, attributes, last
// offset delta, first and max timestamps, producer id and epoch, base
// sequence, record count. The broker measures a batch with it against
// max.message.bytes.
const BatchOverhead = 8 + 4 + 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4

// ProducerSlack is what franz-go counts on top of the broker's measure of
// a batch (the length of the records array in the produce request, 4
// bytes at most). Give the producer a topic's limit plus this
// (ProducerLimit), or it refuses records the broker would take.
const ProducerSlack = 4

// ProducerLimit is the batch limit to give franz-go
// (kgo.ProducerBatchMaxBytesFn) for a topic whose max.message.bytes is
// maxMessageBytes: it refuses a record alone exactly when the broker would.
func ProducerLimit(maxMessageBytes int32) int32 { return maxMessageBytes + ProducerSlack }

// Batch returns the size of a record batch that holds r alone,
// uncompressed: what the broker checks against max.message.bytes (without
// compression; compression only makes it smaller).
func Batch(r *kgo.Record) int {
	body := 1 + // attributes
		1 + // timestamp delta: 0 for the first record of a batch
		1 + // offset delta: 0
		varint(len(r.Key)) + len(r.Key) +
		varint(len(r.Value)) + len(r.Value) +
		varint(len(r.Headers))
	for _, h := range r.Headers {
		body += varint(len(h.Key)) + len(h.Key) + varint(len(h.Value)) + len(h.Value)
	}
	return BatchOverhead + varint(body) + body
}

// Fits reports whether r can be written to a topic whose batches may hold
// limit bytes; a limit of zero or less bounds nothing.
func Fits(r *kgo.Record, limit int) bool { return limit <= 0 || Batch(r) <= limit }

// varint is the length of n as a zig-zag varint, as Kafka encodes record
// lengths (a nil key or value, -1, takes one byte like an empty one).
func varint(n int) int {
	u := uint64(n<<1) ^ uint64(n>>63)
	l := 1
	for u >= 0x80 {
		u >>= 7
		l++
	}
	return l
}
