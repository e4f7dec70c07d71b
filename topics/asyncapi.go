package topics

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ContractVersion is the version of the Kafka contract written into the
// AsyncAPI document. It is the contract's, not the binary's, so that the
// generated documents change only when the contract does.
const ContractVersion = "1.0.0"

// SchemasDir is where the JSON Schemas live relative to the AsyncAPI
// document; the document references them by this path.
const SchemasDir = "schemas"

// cloudEventsHeaders describes the headers every record carries (the
// CloudEvents Kafka binding, binary mode, plus W3C trace context).
func cloudEventsHeaders() map[string]any {
	str := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"ce_specversion": map[string]any{"type": "string", "enum": []string{"1.0"}, "description": "CloudEvents spec version: exactly `1.0` (without it the event is rejected with HEADER_MISSING, with another version with HEADER_INVALID)."},
			"ce_id":          str("Unique per event from its producer; the idempotency key: at most 256 characters of printable ASCII without spaces (otherwise HEADER_INVALID). Every record the gateway writes keeps the source's ce_id. An event without it is rejected (HEADER_MISSING at ce_id); its status has an empty ce_id and names the record by its `ingress` topic, partition and offset."),
			"ce_source":      str("The producing system, e.g. the MIS OID: at most 256 characters of printable ASCII without spaces (otherwise HEADER_INVALID). Once egisz.is.system.v1 lists systems, a case, document, prescription or lab result must come from a system listed there, active, bound to the event's organization and of its region (otherwise NO_RMIS, DISABLED_RMIS or RMIS_REGION_MISMATCH)."),
			"ce_type":        str("The event type, e.g. `ru.egisz.rmis.case.v1`."),
			"ce_time":        str("When the event happened, RFC 3339; optional. Otherwise HEADER_INVALID; later than the gateway's clock plus normalize.clock_skew, DATE_IN_FUTURE."),
			"content-type":   str("`application/json`."),
			"traceparent":    str("W3C trace context; carried through every hop."),
		},
		"required": []string{"ce_specversion", "ce_id", "ce_source", "ce_type"},
	}
}

// AsyncAPI renders the catalog as an AsyncAPI 3.0 document (YAML). version
// is the gateway's version; the document is otherwise a pure function of
// the catalog, so a committed copy can be checked for staleness.
func (c Catalog) AsyncAPI(version string) ([]byte, error) {
	channels := map[string]any{}
	operations := map[string]any{}
	messages := map[string]any{}
	for _, t := range c {
		id := channelID(t.Name)
		msgID := id + "Record"
		msg := map[string]any{
			"name":        msgID,
			"title":       t.Name + " record",
			"contentType": "application/json",
			"headers":     map[string]any{"$ref": "#/components/schemas/CloudEventsHeaders"},
			"bindings": map[string]any{"kafka": map[string]any{
				"key":            map[string]any{"type": "string", "description": t.Key.Description},
				"bindingVersion": "0.5.0",
			}},
		}
		if t.Payload != nil {
			msg["payload"] = map[string]any{"$ref": SchemasDir + "/" + SchemaFileName(t.Payload)}
			msg["summary"] = t.Payload.Name()
		} else {
			msg["payload"] = map[string]any{"description": "The original record's value, byte for byte."}
		}
		if t.EventType != "" {
			msg["description"] = "ce_type: `" + t.EventType + "`"
		}
		if len(t.Headers) > 0 {
			props := map[string]any{}
			for k, d := range t.Headers {
				props[k] = map[string]any{"type": "string", "description": d}
			}
			msg["headers"] = map[string]any{"allOf": []any{
				map[string]any{"$ref": "#/components/schemas/CloudEventsHeaders"},
				map[string]any{"type": "object", "properties": props},
			}}
		}
		for _, ex := range t.Examples {
			var payload any
			if err := yaml.Unmarshal(Example(ex.File), &payload); err != nil || payload == nil {
				return nil, fmt.Errorf("topic %s: example %s: %v", t.Name, ex.File, err)
			}
			exs, _ := msg["examples"].([]any)
			msg["examples"] = append(exs, map[string]any{
				"name": ex.Name, "summary": ex.Summary, "headers": ex.Headers, "payload": payload,
			})
		}
		messages[msgID] = msg

		topicCfg := map[string]any{"cleanup.policy": strings.Split(string(t.Cleanup), ",")}
		if t.Retention > 0 {
			topicCfg["retention.ms"] = t.Retention.Milliseconds()
		}
		if t.MaxMessageBytes > 0 {
			topicCfg["max.message.bytes"] = t.MaxMessageBytes
		}
		desc := t.Purpose + "\n\nRole: " + string(t.Role) + ". Key: " + t.Key.Description +
			"\n\nProducers: " + strings.Join(t.Producers, ", ") + ". Consumers: " + strings.Join(t.Consumers, ", ") + "."
		if t.DLQ != "" {
			desc += "\n\nRejected records go to `" + t.DLQ + "`; every event's outcome to `" + t.Status + "`."
		}
		if t.Role == RoleIngress {
			desc += fmt.Sprintf("\n\nSizes: a value of up to %d bytes (1 MiB, the gateway's default `normalize.max_record_bytes`) is accepted; "+
				"a larger one is rejected `DECODE_TOO_LARGE` and parked whole. The topic takes records of up to %d bytes with headers "+
				"(`max.message.bytes`), so that such a record reaches the gateway. An event whose outputs would still not fit the topics they go to, "+
				"or that Kafka refuses to write, is rejected `OUTPUT_TOO_LARGE` (or `OUTPUT_REFUSED`) and parked; the events behind it go on.", DefaultMaxValueBytes, t.BatchMaxBytes())
		}
		if t.MaxInlineFileBytes > 0 {
			desc += fmt.Sprintf("\n\nFiles: `file.data` carries a file of up to %d bytes (%d KiB) inline; a larger one goes by `file.ref`, "+
				"the producer's https URL, with `size` and `sha256`. The gateway fetches it (at most %d bytes, 11 MiB, what the document store holds, and never more than the declared size: "+
				"above that `DOCUMENT_TOO_LARGE`), checks its digest (`DOCUMENT_DIGEST_MISMATCH`), and parks the event `DOCUMENT_FETCH_FAILED` "+
				"when the fetch fails, to be replayed once the file can be fetched.", t.MaxInlineFileBytes, t.MaxInlineFileBytes>>10, DocumentFetchMaxBytes)
		}
		channels[id] = map[string]any{
			"address":     t.Name,
			"description": desc,
			"messages":    map[string]any{msgID: map[string]any{"$ref": "#/components/messages/" + msgID}},
			"bindings": map[string]any{"kafka": map[string]any{
				"topic":              t.Name,
				"partitions":         t.Partitions,
				"topicConfiguration": topicCfg,
				"bindingVersion":     "0.5.0",
			}},
		}
		ref := func() map[string]any {
			return map[string]any{
				"channel":  map[string]any{"$ref": "#/channels/" + id},
				"messages": []any{map[string]any{"$ref": "#/channels/" + id + "/messages/" + msgID}},
			}
		}
		if t.GatewayConsumes() {
			op := ref()
			op["action"] = "receive"
			op["summary"] = "The gateway reads " + t.Name + "."
			operations["receive"+upperFirst(id)] = op
		}
		if t.GatewayProduces() {
			op := ref()
			op["action"] = "send"
			op["summary"] = "The gateway writes " + t.Name + "."
			operations["send"+upperFirst(id)] = op
		}
	}
	doc := map[string]any{
		"asyncapi": "3.0.0",
		"info": map[string]any{
			"title":   "egisz-gateway",
			"version": version,
			"description": "Kafka contract of egisz-gateway: what regional MIS, laboratories, pharmacy chains and the identity bridge publish, " +
				"and what the gateway writes back (outcomes, validated prescriptions, dead letters). Generated from topics/catalog.go; do not edit.",
		},
		"defaultContentType": "application/json",
		"servers": map[string]any{
			"dev": map[string]any{"host": "127.0.0.1:9092", "protocol": "kafka", "description": "The embedded broker of `egisz-gateway dev`."},
		},
		"channels":   channels,
		"operations": operations,
		"components": map[string]any{
			"messages": messages,
			"schemas":  map[string]any{"CloudEventsHeaders": cloudEventsHeaders()},
		},
	}
	var buf bytes.Buffer
	buf.WriteString("# Generated by `egisz-gateway topics asyncapi` from topics/catalog.go. Do not edit.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode asyncapi: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode asyncapi: %w", err)
	}
	return buf.Bytes(), nil
}

// channelID turns a topic name into an AsyncAPI identifier:
// egisz.out.remd.v1 → egiszOutRemdV1.
func channelID(topic string) string {
	var b strings.Builder
	upper := false
	for _, r := range topic {
		switch {
		case r == '.' || r == '-' || r == '_':
			upper = true
		case upper:
			b.WriteString(strings.ToUpper(string(r)))
			upper = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
