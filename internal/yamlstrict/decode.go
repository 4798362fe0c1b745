package yamlstrict

import (
	"encoding"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// Decode decodes n (a document or any node in it) into v, a non-nil
// pointer; path is n's field path (nil for the document). Struct fields are
// matched by their json tags, inline (embedded) structs flattened; a value
// whose type implements encoding.TextUnmarshaler is handed the scalar. A
// value whose type implements json.Unmarshaler (e.g. metav1.Time) decodes
// itself from JSON, so Decode neither judges nor sets it: decode the
// document with sigs.k8s.io/yaml for those, as the API server would. Every
// problem (unknown field, value of the wrong type, bad value) is recorded
// with its path and line, and the value left as it is; Decode returns the
// problems it found.
func (d *Decoder) Decode(n *yaml.Node, v any, path *field.Path) field.ErrorList {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic(fmt.Sprintf("yamlstrict: Decode into %T, want a non-nil pointer", v))
	}
	before := len(d.errs)
	d.decode(n, rv.Elem(), path)
	return d.errs[before:len(d.errs):len(d.errs)]
}

// key is the path as a key of lines; the root is "".
func key(p *field.Path) string {
	if p == nil {
		return ""
	}
	return p.String()
}

func (d *Decoder) fail(path *field.Path, n *yaml.Node, msg string) {
	d.errs = append(d.errs, field.Invalid(path, shortValue(n), msg))
}

// decode decodes n into v, which must be settable.
func (d *Decoder) decode(n *yaml.Node, v reflect.Value, path *field.Path) {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.lines[key(path)] = n.Line
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	}
	// Before TextUnmarshaler: metav1.Time is both.
	if reflect.PointerTo(v.Type()).Implements(jsonUnmarshaler) {
		return
	}
	if reflect.PointerTo(v.Type()).Implements(textUnmarshaler) {
		if n.Kind != yaml.ScalarNode {
			d.fail(path, n, "must be a string")
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.fail(path, n, err.Error())
		}
		return
	}
	switch v.Kind() {
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.fail(path, n, err.Error())
			return
		}
		v.Set(reflect.ValueOf(x))
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(path, n, "must be a map")
			return
		}
		if v.Type().Key().Kind() != reflect.String {
			panic("yamlstrict: only string map keys are supported")
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			elem := reflect.New(v.Type().Elem()).Elem()
			d.decode(n.Content[i+1], elem, path.Key(k))
			m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), elem)
		}
		v.Set(m)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(path, n, "must be a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), path.Index(i))
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(path, n, "must be a string")
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || err != nil {
			d.fail(path, n, "must be true or false")
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil || v.OverflowInt(i) {
			d.fail(path, n, "must be a whole number")
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		i, err := strconv.ParseUint(n.Value, 0, 64)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil || v.OverflowUint(i) {
			d.fail(path, n, "must be a whole number, 0 or more")
			return
		}
		v.SetUint(i)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || err != nil || math.IsNaN(f) {
			d.fail(path, n, "must be a number")
			return
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("yamlstrict: unsupported kind %s", v.Kind()))
	}
}

func (d *Decoder) decodeStruct(n *yaml.Node, v reflect.Value, path *field.Path) {
	if n.Kind != yaml.MappingNode {
		d.fail(path, n, "must be a map")
		return
	}
	fields := structFields(v.Type())
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		idx, ok := fields[k.Value]
		if !ok {
			d.lines[key(path.Child(k.Value))] = k.Line
			d.errs = append(d.errs, field.Forbidden(path.Child(k.Value),
				"unknown field; allowed fields: "+strings.Join(slices.Sorted(maps.Keys(fields)), ", ")))
			continue
		}
		d.decode(val, v.FieldByIndex(idx), path.Child(k.Value))
	}
}

// structFields maps the json names of t's exported fields to their indexes,
// flattening inline (embedded) structs.
func structFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && (name == "" || strings.Contains(opts, "inline")) && f.Type.Kind() == reflect.Struct {
			for n, idx := range structFields(f.Type) {
				out[n] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = []int{i}
	}
	return out
}

// shortValue is the value shown in an error: the scalar, or its kind.
func shortValue(n *yaml.Node) any {
	switch n.Kind {
	case yaml.ScalarNode:
		if len(n.Value) > 60 {
			return n.Value[:57] + "..."
		}
		return n.Value
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	default:
		return ""
	}
}
