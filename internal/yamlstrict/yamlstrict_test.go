package yamlstrict_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/iter8-tools/iter8/internal/yamlstrict"
)

// level is decoded from text.
type level int

func (l *level) UnmarshalText(b []byte) error {
	switch string(b) {
	case "low":
		*l = 1
	case "high":
		*l = 2
	default:
		return fmt.Errorf("want low or high")
	}
	return nil
}

type Meta struct {
	Name string `json:"name"`
}

type sample struct {
	Meta    `json:",inline"`
	Text    string            `json:"text,omitempty"`
	On      bool              `json:"on,omitempty"`
	Small   int8              `json:"small,omitempty"`
	Count   uint              `json:"count,omitempty"`
	Ratio   float64           `json:"ratio,omitempty"`
	Level   level             `json:"level,omitempty"`
	When    *metav1.Time      `json:"when,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Items   []item            `json:"items,omitempty"`
	Any     any               `json:"any,omitempty"`
	Ptr     *int              `json:"ptr,omitempty"`
	NoTag   string
	Skipped string `json:"-"`
}

type item struct {
	ID int `json:"id"`
}

func ptr[T any](v T) *T { return &v }

// decode parses and decodes doc, the file f.yaml, into a sample.
func decode(t *testing.T, doc string) (*yamlstrict.Decoder, sample) {
	t.Helper()
	d := yamlstrict.NewDecoder("f.yaml", "sample")
	n, err := d.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var s sample
	d.Decode(n, &s, nil)
	return d, s
}

// problems renders the problems in err, a *ParseError or nil, as in its
// message.
func problems(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var pe *yamlstrict.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v, want a *ParseError", err)
	}
	var out []string
	for _, p := range pe.Problems {
		out = append(out, p.String(pe.File))
	}
	return out
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name     string
		doc      string
		want     sample
		problems []string
	}{
		{
			name: "every kind",
			doc: `name: a
text: hello
on: true
small: -8
count: 0x10
ratio: 2
level: high
when: 2024-05-01T10:00:00Z
labels: {app: x}
items: [{id: 1}, {id: 2}]
any: {k: [1, two]}
ptr: 3
NoTag: n
`,
			want: sample{
				Meta: Meta{Name: "a"}, Text: "hello", On: true, Small: -8, Count: 16, Ratio: 2,
				Level: 2, When: &metav1.Time{} /* left to sigs.k8s.io/yaml */, Labels: map[string]string{"app": "x"},
				Items: []item{{ID: 1}, {ID: 2}}, Any: map[string]any{"k": []any{1, "two"}},
				Ptr: ptr(3), NoTag: "n",
			},
		},
		{
			name: "null and aliases",
			doc:  "text: &t hi\nname: *t\nptr: null\nlabels: ~\n",
			want: sample{Meta: Meta{Name: "hi"}, Text: "hi"},
		},
		{
			name: "unknown fields",
			doc:  "name: a\ncolour: red\nSkipped: x\n",
			want: sample{Meta: Meta{Name: "a"}},
			problems: []string{
				"f.yaml:2: colour: unknown field; allowed fields: NoTag, any, count, items, labels, level, name, on, ptr, ratio, small, text, when",
				"f.yaml:3: Skipped: unknown field; allowed fields: NoTag, any, count, items, labels, level, name, on, ptr, ratio, small, text, when",
			},
		},
		{
			name: "wrong kinds and bad values",
			doc: `text: [a]
on: "yes"
small: 200
count: -1
ratio: .nan
level: medium
labels: [a]
items: {id: 1}
ptr: 1.5
`,
			want: sample{Ptr: ptr(0)},
			problems: []string{
				`f.yaml:1: text: Invalid value: "a list": must be a string`,
				`f.yaml:2: on: Invalid value: "yes": must be true or false`,
				`f.yaml:3: small: Invalid value: "200": must be a whole number`,
				`f.yaml:4: count: Invalid value: "-1": must be a whole number, 0 or more`,
				`f.yaml:5: ratio: Invalid value: ".nan": must be a number`,
				`f.yaml:6: level: Invalid value: "medium": want low or high`,
				`f.yaml:7: labels: Invalid value: "a list": must be a map`,
				`f.yaml:8: items: Invalid value: "a map": must be a list`,
				`f.yaml:9: ptr: Invalid value: "1.5": must be a whole number`,
			},
		},
		{
			name: "paths and lines in lists and maps",
			doc:  "items:\n- id: 1\n- id: x\n  extra: 1\nlabels:\n  a.b: {c: d}\nlevel: {}\n",
			want: sample{Items: []item{{ID: 1}, {}}, Labels: map[string]string{"a.b": ""}},
			problems: []string{
				`f.yaml:3: items[1].id: Invalid value: "x": must be a whole number`,
				"f.yaml:4: items[1].extra: unknown field; allowed fields: id",
				`f.yaml:6: labels[a.b]: Invalid value: "a map": must be a string`,
				`f.yaml:7: level: Invalid value: "a map": must be a string`,
			},
		},
		{
			name: "values that decode themselves from JSON are not judged",
			doc:  "when: [not, a, time]\n",
			want: sample{When: &metav1.Time{}},
		},
		{
			name:     "long values are cut",
			doc:      "small: " + strings.Repeat("9", 70) + "\n",
			problems: []string{`f.yaml:1: small: Invalid value: "` + strings.Repeat("9", 57) + `...": must be a whole number`},
		},
		{
			name:     "the document must be a map",
			doc:      "- a\n",
			problems: []string{`f.yaml:1: Invalid value: "a list": must be a map`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, got := decode(t, tc.doc)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.problems, problems(t, d.Err())); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeReturnsItsProblems(t *testing.T) {
	d := yamlstrict.NewDecoder("f.yaml", "sample")
	doc, err := d.Parse([]byte("first: {id: x}\nsecond: {id: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	tests := []struct {
		name string
		node int
		want []string
	}{
		{name: "bad", node: 1, want: []string{"first.id"}},
		{name: "good", node: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var it item
			var got []string
			for _, e := range d.Decode(root.Content[tc.node], &it, field.NewPath(root.Content[tc.node-1].Value)) {
				got = append(got, e.Field)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeNeedsAPointer(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Decode into a non-pointer did not panic")
		}
	}()
	d := yamlstrict.NewDecoder("f.yaml", "sample")
	doc, _ := d.Parse([]byte("id: 1\n"))
	d.Decode(doc, item{}, nil)
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string // the error; "" for none
	}{
		{name: "one document", data: "a: 1\n"},
		{name: "JSON", data: `{"a": 1}`},
		{name: "empty", data: "", want: "f.yaml is not a valid sample:\n  f.yaml: apiVersion: Required value: the file is empty"},
		{
			name: "second document",
			data: "a: 1\n---\nb: 2\n",
			want: "f.yaml is not a valid sample:\n  f.yaml:2: a file holds one sample; found a second YAML document",
		},
		{name: "not YAML", data: "a: [b", want: "f.yaml is not valid YAML: yaml: line 1: did not find expected ',' or ']'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := yamlstrict.NewDecoder("f.yaml", "sample").Parse([]byte(tc.data))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErr(t *testing.T) {
	const doc = "# a comment\nname: a\nitems:\n- id: 1\n"
	tests := []struct {
		name string
		add  field.ErrorList
		want string // the error; "" for none
	}{
		{name: "none"},
		{
			name: "one",
			add:  field.ErrorList{field.Required(field.NewPath("items").Index(0).Child("id"), "say which")},
			want: "f.yaml is not a valid sample:\n  f.yaml:4: items[0].id: Required value: say which",
		},
		{
			name: "in file order, stable; unknown paths take their parent's line, then the document's",
			add: field.ErrorList{
				field.Invalid(field.NewPath("items").Index(0).Child("more").Key("x"), 3, "too many"),
				field.Required(field.NewPath("text"), "say something"),
				field.Invalid(field.NewPath("name"), "a", "too short"),
				field.Forbidden(field.NewPath("items"), "not today"),
				field.Forbidden(nil, "nothing works"),
			},
			want: "f.yaml is not a valid sample (5 problems):" +
				"\n  f.yaml:2: text: Required value: say something" +
				"\n  f.yaml:2: name: Invalid value: \"a\": too short" +
				"\n  f.yaml:2: nothing works" +
				"\n  f.yaml:4: items[0].more[x]: Invalid value: 3: too many" +
				"\n  f.yaml:4: items: not today",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := decode(t, doc)
			d.Add(tc.add...)
			got := ""
			if err := d.Err(); err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}
