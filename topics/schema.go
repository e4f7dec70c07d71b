package topics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Schema is a JSON Schema (draft 2020-12) document or subschema. Only the
// keywords the generator emits are modelled; the field order is the order
// in which they are written.
type Schema struct {
	SchemaURI            string             `json:"$schema,omitempty"`
	ID                   string             `json:"$id,omitempty"`
	Ref                  string             `json:"$ref,omitempty"`
	Title                string             `json:"title,omitempty"`
	Description          string             `json:"description,omitempty"`
	Type                 string             `json:"type,omitempty"`
	Format               string             `json:"format,omitempty"`
	ContentEncoding      string             `json:"contentEncoding,omitempty"`
	Pattern              string             `json:"pattern,omitempty"`
	Enum                 []string           `json:"enum,omitempty"`
	Examples             []any              `json:"examples,omitempty"`
	Items                *Schema            `json:"items,omitempty"`
	MinItems             int                `json:"minItems,omitempty"`
	Properties           *orderedProps      `json:"properties,omitempty"`
	Required             []string           `json:"required,omitempty"`
	AdditionalProperties any                `json:"additionalProperties,omitempty"`
	Defs                 map[string]*Schema `json:"$defs,omitempty"`
}

// orderedProps keeps properties in the order the struct declares them, so
// the generated files read like the Go types and diff cleanly.
type orderedProps struct {
	names []string
	props map[string]*Schema
}

func (o *orderedProps) set(name string, s *Schema) {
	if o.props == nil {
		o.props = map[string]*Schema{}
	}
	if _, ok := o.props[name]; !ok {
		o.names = append(o.names, name)
	}
	o.props[name] = s
}

// MarshalJSON writes the properties in declaration order.
func (o *orderedProps) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range o.names {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := marshalPlain(n)
		v, err := marshalPlain(o.props[n])
		if err != nil {
			return nil, fmt.Errorf("property %s: %w", n, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// marshalPlain is json.Marshal without HTML escaping, so that "<MO OID>"
// stays readable in the generated files.
func marshalPlain(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// SchemaFor builds the JSON Schema of a payload type. Named struct types
// other than the root become $defs and are referenced, so a type shared by
// several payloads (Patient, Person) is described once per document.
func SchemaFor(t reflect.Type, id string) (*Schema, error) {
	g := &schemaGen{defs: map[string]*Schema{}}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("schema for %s: payload types must be structs", t)
	}
	root, err := g.structSchema(t)
	if err != nil {
		return nil, fmt.Errorf("schema for %s: %w", t.Name(), err)
	}
	root.SchemaURI = "https://json-schema.org/draft/2020-12/schema"
	root.ID = id
	root.Title = t.Name()
	if len(g.defs) > 0 {
		root.Defs = g.defs
	}
	return root, nil
}

type schemaGen struct {
	defs map[string]*Schema
}

// dateTimeDoc is what every date-time field's schema says of its spelling
// and of the clock it is checked against.
const dateTimeDoc = "RFC 3339 with its offset (+03:00 or Z; +0300 without the colon is refused), or CDA yyyyMMddHHmm[ss]+ZZ00 with a + offset; normalized to Moscow time. A moment of the event (not a certificate's validity) may be at most normalize.clock_skew (default 5 minutes) ahead of the gateway's clock"

var (
	typeDate     = reflect.TypeOf(Date(""))
	typeDateTime = reflect.TypeOf(DateTime(""))
	typeBytes    = reflect.TypeOf([]byte(nil))
	typeRaw      = reflect.TypeOf(json.RawMessage(nil))
)

func (g *schemaGen) schema(t reflect.Type) (*Schema, error) {
	switch t {
	case typeDate:
		return &Schema{Type: "string", Format: "date"}, nil
	case typeDateTime:
		return &Schema{Type: "string", Format: "date-time", Description: dateTimeDoc}, nil
	case typeBytes:
		return &Schema{Type: "string", ContentEncoding: "base64"}, nil
	case typeRaw:
		return &Schema{}, nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem())
	case reflect.String:
		return &Schema{Type: "string"}, nil
	case reflect.Bool:
		return &Schema{Type: "boolean"}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return &Schema{Type: "integer"}, nil
	case reflect.Float32, reflect.Float64:
		return &Schema{Type: "number"}, nil
	case reflect.Interface:
		return &Schema{}, nil
	case reflect.Slice, reflect.Array:
		items, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return &Schema{Type: "array", Items: items}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map key of %s must be a string", t)
		}
		vals, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return &Schema{Type: "object", AdditionalProperties: vals}, nil
	case reflect.Struct:
		name := t.Name()
		if name == "" {
			return g.structSchema(t)
		}
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = nil // mark before recursing, for self-referencing types
			s, err := g.structSchema(t)
			if err != nil {
				return nil, err
			}
			s.Title = name
			g.defs[name] = s
		}
		return &Schema{Ref: "#/$defs/" + name}, nil
	}
	return nil, fmt.Errorf("type %s (%s) has no JSON Schema mapping", t, t.Kind())
}

func (g *schemaGen) structSchema(t reflect.Type) (*Schema, error) {
	s := &Schema{Type: "object", Properties: &orderedProps{}, AdditionalProperties: true}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, omitempty, skip := jsonName(f)
		if skip {
			continue
		}
		fs, err := g.schema(f.Type)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name, err)
		}
		// g.schema returns a fresh value, so the field's own words can go on it;
		// draft 2020-12 allows them beside a $ref.
		switch doc := f.Tag.Get("doc"); {
		case doc != "" && fs.Description != "":
			fs.Description = doc + ". " + fs.Description
		case doc != "":
			fs.Description = doc
		}
		if p := f.Tag.Get("pattern"); p != "" {
			fs.Pattern = p
		}
		if e := f.Tag.Get("enum"); e != "" {
			fs.Enum = strings.Split(e, ",")
		}
		if m := f.Tag.Get("minItems"); m != "" {
			n, err := strconv.Atoi(m)
			if err != nil || n < 0 || fs.Type != "array" {
				return nil, fmt.Errorf("field %s: minItems %q: want a count on an array", f.Name, m)
			}
			fs.MinItems = n
		}
		if ex, ok := f.Tag.Lookup("example"); ok {
			v, err := exampleValue(fs.Type, ex)
			if err != nil {
				return nil, fmt.Errorf("field %s: example: %w", f.Name, err)
			}
			fs.Examples = []any{v}
		}
		s.Properties.set(name, fs)
		if !omitempty {
			s.Required = append(s.Required, name)
		}
	}
	return s, nil
}

// jsonName reads the json tag as encoding/json does.
func jsonName(f reflect.StructField) (name string, omitempty, skip bool) {
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false, true
	}
	parts := strings.Split(tag, ",")
	name = parts[0]
	if name == "" {
		name = f.Name
	}
	for _, p := range parts[1:] {
		if p == "omitempty" || p == "omitzero" {
			omitempty = true
		}
	}
	return name, omitempty, false
}

func exampleValue(typ, ex string) (any, error) {
	switch typ {
	case "integer":
		return strconv.ParseInt(ex, 10, 64)
	case "number":
		return strconv.ParseFloat(ex, 64)
	case "boolean":
		return strconv.ParseBool(ex)
	}
	return ex, nil
}

// SchemaFileName is the file a payload type's schema is written to.
func SchemaFileName(t reflect.Type) string { return t.Name() + ".schema.json" }

// Schemas returns the JSON Schema documents of every payload type the
// catalog names, keyed by file name, each indented and newline-terminated.
func (c Catalog) Schemas() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, t := range c {
		if t.Payload == nil {
			continue
		}
		name := SchemaFileName(t.Payload)
		if _, ok := out[name]; ok {
			continue
		}
		s, err := SchemaFor(t.Payload, "https://egisz-gateway.github.io/schemas/"+name)
		if err != nil {
			return nil, fmt.Errorf("topic %s: %w", t.Name, err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // keep <MO OID> readable in descriptions
		enc.SetIndent("", "  ")
		if err := enc.Encode(s); err != nil {
			return nil, fmt.Errorf("topic %s: encode schema: %w", t.Name, err)
		}
		out[name] = buf.Bytes()
	}
	return out, nil
}
