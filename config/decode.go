package config

import (
	"errors"
	"fmt"
	"net/mail"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/agnivade/levenshtein"
)

// Error is one problem in a config file. Line is 0 when the problem has no place in the file
// (a required section that is absent altogether).
type Error struct {
	File string
	Line int
	Key  string // dotted, e.g. "imap.tls"; empty for a syntax error without one
	Msg  string
}

func (e Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a config file, in file order.
type Errors struct {
	List []Error
}

// Error prints one problem per line.
func (e *Errors) Error() string {
	lines := make([]string, len(e.List))
	for i, x := range e.List {
		lines[i] = x.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find an individual Error.
func (e *Errors) Unwrap() []error {
	errs := make([]error, len(e.List))
	for i, x := range e.List {
		errs[i] = x
	}
	return errs
}

// node is one key of the file as the TOML parser saw it, with its line.
type node struct {
	key  string // dotted
	line int
	raw  any              // string, int64, float64, bool, time.Time, []any, []map[string]any
	kids map[string]*node // non-nil for a table
}

// probe learns a key's line. BurntSushi/toml v1.6.0 keeps key positions private
// (MetaData.keyInfo) and reveals them only in a ParseError.Position for the key being
// decoded, so decoding a key's Primitive into an Unmarshaler that always fails yields it.
type probe struct{}

var errProbe = errors.New("probe")

func (probe) UnmarshalTOML(any) error { return errProbe }

// readTree parses the file into nodes. Each value is taken as-is (decoded into any), so the
// typed decoding below can go on past a bad value and report every one.
func readTree(src string) (*node, error) {
	var top map[string]toml.Primitive
	md, err := toml.Decode(src, &top)
	if err != nil {
		return nil, err
	}
	root := &node{kids: map[string]*node{}}
	fill(&md, root, top)
	return root, nil
}

func fill(md *toml.MetaData, parent *node, prims map[string]toml.Primitive) {
	for name, p := range prims {
		n := &node{key: joinKey(parent.key, name), line: parent.line}
		var pe toml.ParseError
		if err := md.PrimitiveDecode(p, &probe{}); errors.As(err, &pe) && pe.Position.Line > 0 {
			n.line = pe.Position.Line
		}
		_ = md.PrimitiveDecode(p, &n.raw) // into any: cannot fail
		if _, ok := n.raw.(map[string]any); ok {
			var sub map[string]toml.Primitive
			if err := md.PrimitiveDecode(p, &sub); err == nil {
				n.kids = map[string]*node{}
				fill(md, n, sub)
			}
		}
		parent.kids[name] = n
	}
}

func joinKey(parent, name string) string {
	k := toml.Key{name}.String() // quotes a name that is not a bare key
	if parent == "" {
		return k
	}
	return parent + "." + k
}

// decoder decodes the node tree into a Config, collecting errors and the line of every key.
type decoder struct {
	file  string
	errs  []Error
	lines map[string]int // dotted key (tables too) -> line
	// bad holds the keys whose value could not be decoded. Checks of those keys (and of
	// keys under a bad table) stay silent: "required" after "bad type" is noise.
	bad map[string]bool
}

func (d *decoder) isBad(key string) bool {
	for k := key; ; {
		if d.bad[k] {
			return true
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			return false
		}
		k = k[:i]
	}
}

func (d *decoder) add(line int, key, format string, args ...any) {
	d.errs = append(d.errs, Error{File: d.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

var (
	durationType    = reflect.TypeFor[time.Duration]()
	addressType     = reflect.TypeFor[*mail.Address]()
	addressListType = reflect.TypeFor[[]*mail.Address]()
	unmarshalerType = reflect.TypeFor[toml.Unmarshaler]()
)

// tomlName is a field's key, or "" for fields that are not keys.
func tomlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "-" || name == "" {
		return ""
	}
	return name
}

// isSection reports whether a field's type is a table of keys rather than one value.
func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(unmarshalerType)
}

// keyNames lists the keys of a section type, for did-you-mean.
func keyNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if n := tomlName(t.Field(i)); n != "" {
			names = append(names, n)
		}
	}
	return names
}

func (d *decoder) decodeTable(v reflect.Value, n *node, root reflect.Type) {
	t := v.Type()
	known := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		name := tomlName(f)
		if name == "" {
			continue
		}
		known[name] = true
		c := n.kids[name]
		if c == nil {
			continue
		}
		d.lines[c.key] = c.line
		fv := v.Field(i)
		if isSection(f.Type) {
			if c.kids == nil {
				d.add(c.line, c.key, "bad type: want a table ([%s]), got %s", c.key, tomlTypeName(c.raw))
				d.bad[c.key] = true
				continue
			}
			d.decodeTable(fv, c, root)
			continue
		}
		if c.kids != nil {
			d.add(c.line, c.key, "bad type: want a value, got a table")
			d.bad[c.key] = true
			continue
		}
		if err := decodeValue(c.raw, fv); err != nil {
			d.add(c.line, c.key, "%v", err)
			d.bad[c.key] = true
		}
	}
	for name, c := range n.kids {
		if !known[name] {
			d.add(c.line, c.key, "unknown key%s", suggest(name, n.key, keyNames(t), root))
		}
	}
}

// decodeValue sets one field from a TOML value.
func decodeValue(raw any, v reflect.Value) error {
	if u, ok := v.Addr().Interface().(toml.Unmarshaler); ok {
		return u.UnmarshalTOML(raw)
	}
	if v.Kind() == reflect.Pointer && v.Type() != addressType {
		// An optional value (*bool: unset means "decide at run time"): decode the value it
		// points to.
		p := reflect.New(v.Type().Elem())
		if err := decodeValue(raw, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	switch v.Type() {
	case durationType:
		s, ok := raw.(string)
		if !ok {
			return typeError(`a duration string like "30s", "24h" or "90d"`, raw)
		}
		dur, err := parseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(dur))
		return nil
	case addressType:
		s, ok := raw.(string)
		if !ok {
			return typeError("a mail address string", raw)
		}
		a, err := parseAddress(s)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(a))
		return nil
	case addressListType:
		// One string of comma-separated addresses, or an array of them.
		var list []*mail.Address
		var items []any
		switch x := raw.(type) {
		case string:
			items = []any{x}
		case []any:
			items = x
		default:
			return typeError("an array of mail addresses", raw)
		}
		for _, it := range items {
			s, ok := it.(string)
			if !ok {
				return typeError("an array of mail address strings", it)
			}
			as, err := mail.ParseAddressList(s)
			if err != nil {
				return fmt.Errorf("bad mail address %q: %v", s, err)
			}
			list = append(list, as...)
		}
		v.Set(reflect.ValueOf(list))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			return typeError("a string", raw)
		}
		v.SetString(s)
		return nil
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			return typeError("true or false", raw)
		}
		v.SetBool(b)
		return nil
	case reflect.Int, reflect.Int64:
		n, ok := raw.(int64)
		if !ok {
			return typeError("an integer", raw)
		}
		v.SetInt(n)
		return nil
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.String {
			var items []any
			switch x := raw.(type) {
			case []any:
				items = x
			case string:
				items = []any{x} // a lone string for a one-item list is a common slip; accept it
			default:
				return typeError("an array of strings", raw)
			}
			out := reflect.MakeSlice(v.Type(), 0, len(items))
			for _, it := range items {
				s, ok := it.(string)
				if !ok {
					return typeError("an array of strings", it)
				}
				out = reflect.Append(out, reflect.ValueOf(s))
			}
			v.Set(out)
			return nil
		}
	}
	// A field type this function does not know is a bug in this package, caught by the
	// tests that load the example.
	return fmt.Errorf("internal error: cannot decode into %s", v.Type())
}

func parseAddress(s string) (*mail.Address, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("bad mail address %q: %v", s, err)
	}
	return a, nil
}

// suggest gives a did-you-mean for an unknown key: a near miss among the section's keys, or
// the same key in another section ("from" written under [imap]).
func suggest(name, section string, siblings []string, root reflect.Type) string {
	best, bestDist := "", 3
	for _, s := range siblings {
		if d := levenshtein.ComputeDistance(name, s); d < bestDist && d <= len(s)/3+1 {
			best, bestDist = s, d
		}
	}
	if best != "" && section == "" {
		return fmt.Sprintf(" (did you mean [%s]?)", best) // every top-level key is a table
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	if section == "" {
		return ""
	}
	// The same name elsewhere: [smtp] from under [imap], say.
	for i := range root.NumField() {
		f := root.Field(i)
		sec := tomlName(f)
		if sec == "" || !isSection(f.Type) || sec == section {
			continue
		}
		for _, k := range keyNames(f.Type) {
			if k == name {
				return fmt.Sprintf(" (did you mean [%s] %s?)", sec, k)
			}
		}
	}
	return ""
}

func sortErrors(errs []Error) {
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Line != errs[j].Line {
			// Errors without a line go last: they concern what is missing.
			if errs[i].Line == 0 || errs[j].Line == 0 {
				return errs[j].Line == 0 && errs[i].Line != 0
			}
			return errs[i].Line < errs[j].Line
		}
		return errs[i].Key < errs[j].Key
	})
}
