package store

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"strings"
	"sync"
	"time"
)

// The record codec. Records (records.go) stay plain structs with JSON tags;
// they are stored in a compact binary form derived from those tags, so a
// field added with a JSON tag is stored with no further work:
//
//	record  = 0x00 field*            (a JSON record starts with '{')
//	field   = header value           (zero-valued fields are left out)
//	header  = 3 bytes, big endian: hash(JSON name) << 3 | wire type
//
// The field's id is a 21-bit FNV-1a hash of its JSON name (the same name
// JSON would write), so fields may be added, removed and reordered freely;
// a decoder skips ids it does not know, as JSON skips unknown keys.
// typeInfo refuses a struct in which two names hash alike
// (TestCodec_NoCollisions checks every record type).
//
// Values by wire type:
//
//	wireUint   uvarint                        unsigned integers
//	wireInt    zigzag varint                  signed integers, durations, money
//	wireBytes  uvarint length, bytes          strings, []byte
//	wireHex    uvarint length, bytes          a string of ≥ 16 lowercase hex digits (hashes), half the size
//	wireTime   zigzag Unix seconds, uvarint nanoseconds, zigzag zone offset (s)
//	wireTrue   nothing                        a true bool (false is zero, left out)
//	wireStruct uvarint length, record body    a nested struct or pointer to one
//	wireJSON   uvarint length, JSON           anything else (maps, slices, floats)
//
// A JSON record (schema 1, or one not yet migrated) still decodes, so a
// database is readable while migrate converts it.
const (
	wireUint = iota
	wireInt
	wireBytes
	wireHex
	wireTime
	wireTrue
	wireStruct
	wireJSON
)

const compactMagic = 0x00

type codecField struct {
	index []int
	name  string
	id    uint32
	typ   reflect.Type
}

type codecType struct {
	fields []codecField
	byID   map[uint32]*codecField
}

var (
	codecTypes sync.Map // reflect.Type → *codecType
	timeType   = reflect.TypeFor[time.Time]()
	bytesType  = reflect.TypeFor[[]byte]()
)

// fieldID returns the 21-bit id of a JSON field name.
func fieldID(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32() & (1<<21 - 1)
}

// typeInfo returns the fields of struct type t as the codec sees them. It
// panics if two of them have the same id.
func typeInfo(t reflect.Type) *codecType {
	if ct, ok := codecTypes.Load(t); ok {
		return ct.(*codecType)
	}
	ct := &codecType{byID: map[uint32]*codecField{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		ct.fields = append(ct.fields, codecField{index: sf.Index, name: name, id: fieldID(name), typ: sf.Type})
	}
	for i := range ct.fields {
		f := &ct.fields[i]
		if g, ok := ct.byID[f.id]; ok {
			panic(fmt.Sprintf("store codec: fields %q and %q of %s have the same id; rename one's JSON name", g.name, f.name, t))
		}
		ct.byID[f.id] = f
	}
	codecTypes.Store(t, ct)
	return ct
}

// encodeRecord encodes rec, a pointer to a struct.
func encodeRecord(rec any) ([]byte, error) {
	v := reflect.ValueOf(rec)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("store codec: %T is not a pointer to a struct", rec)
	}
	return appendStruct([]byte{compactMagic}, v.Elem())
}

// decodeRecord decodes data, compact or JSON, into rec, a pointer to a
// struct.
func decodeRecord(data []byte, rec any) error {
	if len(data) == 0 || data[0] != compactMagic {
		return json.Unmarshal(data, rec)
	}
	v := reflect.ValueOf(rec)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("store codec: %T is not a pointer to a struct", rec)
	}
	return decodeStruct(data[1:], v.Elem())
}

// isCompact reports whether a stored value is in the compact form.
func isCompact(v []byte) bool { return len(v) > 0 && v[0] == compactMagic }

func isZero(v reflect.Value) bool {
	if v.Type() == timeType {
		return v.Interface().(time.Time).IsZero()
	}
	return v.IsZero()
}

func appendHeader(b []byte, id uint32, wire int) []byte {
	h := id<<3 | uint32(wire)
	return append(b, byte(h>>16), byte(h>>8), byte(h))
}

func appendStruct(b []byte, v reflect.Value) ([]byte, error) {
	for _, f := range typeInfo(v.Type()).fields {
		fv := v.FieldByIndex(f.index)
		if isZero(fv) {
			continue
		}
		var err error
		if b, err = appendValue(b, f.id, fv); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return b, nil
}

func appendValue(b []byte, id uint32, v reflect.Value) ([]byte, error) {
	t := v.Type()
	switch {
	case t == timeType:
		tm := v.Interface().(time.Time)
		_, off := tm.Zone()
		b = appendHeader(b, id, wireTime)
		b = binary.AppendVarint(b, tm.Unix())
		b = binary.AppendUvarint(b, uint64(tm.Nanosecond()))
		return binary.AppendVarint(b, int64(off)), nil
	case t == bytesType || (t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 && t.Elem().Name() == "uint8"):
		b = appendHeader(b, id, wireBytes)
		b = binary.AppendUvarint(b, uint64(v.Len()))
		return append(b, v.Bytes()...), nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return appendHeader(b, id, wireTrue), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return binary.AppendVarint(appendHeader(b, id, wireInt), v.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return binary.AppendUvarint(appendHeader(b, id, wireUint), v.Uint()), nil
	case reflect.String:
		s := v.String()
		if raw, ok := packHex(s); ok {
			b = appendHeader(b, id, wireHex)
			b = binary.AppendUvarint(b, uint64(len(raw)))
			return append(b, raw...), nil
		}
		b = appendHeader(b, id, wireBytes)
		b = binary.AppendUvarint(b, uint64(len(s)))
		return append(b, s...), nil
	case reflect.Struct:
		if plainStruct(t) {
			return appendNested(b, id, v)
		}
	case reflect.Pointer:
		if t.Elem().Kind() == reflect.Struct && plainStruct(t.Elem()) {
			return appendNested(b, id, v.Elem())
		}
	}
	j, err := json.Marshal(v.Interface())
	if err != nil {
		return nil, err
	}
	b = appendHeader(b, id, wireJSON)
	b = binary.AppendUvarint(b, uint64(len(j)))
	return append(b, j...), nil
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// plainStruct reports whether the codec may encode struct type t field by
// field: not time.Time, and not a type that marshals itself (whose state
// may be in unexported fields), which goes as JSON.
func plainStruct(t reflect.Type) bool {
	if t == timeType {
		return false
	}
	for _, x := range []reflect.Type{t, reflect.PointerTo(t)} {
		if x.Implements(jsonMarshaler) || x.Implements(textMarshaler) {
			return false
		}
	}
	return true
}

func appendNested(b []byte, id uint32, v reflect.Value) ([]byte, error) {
	body, err := appendStruct(nil, v)
	if err != nil {
		return nil, err
	}
	b = appendHeader(b, id, wireStruct)
	b = binary.AppendUvarint(b, uint64(len(body)))
	return append(b, body...), nil
}

// packHex returns the bytes of s when s is at least 16 lowercase hex
// digits, an even number of them.
func packHex(s string) ([]byte, bool) {
	if len(s) < 16 || len(s)%2 != 0 {
		return nil, false
	}
	raw := make([]byte, len(s)/2)
	for i := range raw {
		hi, lo := unhex(s[2*i]), unhex(s[2*i+1])
		if hi < 0 || lo < 0 {
			return nil, false
		}
		raw[i] = byte(hi<<4 | lo)
	}
	return raw, true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}

var errTruncated = errors.New("truncated record")

// reader reads the parts of an encoded record.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = errTruncated, nil
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) varint() int64 {
	x, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = errTruncated, nil
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err, r.b = errTruncated, nil
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func decodeStruct(data []byte, v reflect.Value) error {
	ct := typeInfo(v.Type())
	r := &reader{b: data}
	for len(r.b) > 0 && r.err == nil {
		if len(r.b) < 3 {
			return errTruncated
		}
		h := uint32(r.b[0])<<16 | uint32(r.b[1])<<8 | uint32(r.b[2])
		r.b = r.b[3:]
		id, wire := h>>3, int(h&7)
		f := ct.byID[id]
		var fv reflect.Value
		if f != nil {
			fv = v.FieldByIndex(f.index)
		}
		if err := decodeValue(r, wire, fv); err != nil {
			if f != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
			return err
		}
	}
	return r.err
}

// decodeValue reads one value of wire type wire into v; an invalid v (a
// field this program does not know) skips it.
func decodeValue(r *reader, wire int, v reflect.Value) error {
	skip := !v.IsValid()
	switch wire {
	case wireUint:
		x := r.uvarint()
		if !skip && r.err == nil {
			switch v.Kind() {
			case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
				v.SetUint(x)
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				v.SetInt(int64(x))
			default:
				return fmt.Errorf("an unsigned integer for a %s", v.Type())
			}
		}
	case wireInt:
		x := r.varint()
		if !skip && r.err == nil {
			switch v.Kind() {
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				v.SetInt(x)
			case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
				v.SetUint(uint64(x))
			default:
				return fmt.Errorf("an integer for a %s", v.Type())
			}
		}
	case wireBytes, wireHex:
		raw := r.bytes()
		if skip || r.err != nil {
			break
		}
		s := string(raw)
		if wire == wireHex {
			s = fmt.Sprintf("%x", raw)
		}
		switch {
		case v.Kind() == reflect.String:
			v.SetString(s)
		case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
			v.SetBytes([]byte(s))
		default:
			return fmt.Errorf("bytes for a %s", v.Type())
		}
	case wireTime:
		sec, nsec, off := r.varint(), r.uvarint(), r.varint()
		if skip || r.err != nil {
			break
		}
		if v.Type() != timeType {
			return fmt.Errorf("a time for a %s", v.Type())
		}
		v.Set(reflect.ValueOf(timeIn(sec, int64(nsec), int(off))))
	case wireTrue:
		if !skip {
			if v.Kind() != reflect.Bool {
				return fmt.Errorf("a bool for a %s", v.Type())
			}
			v.SetBool(true)
		}
	case wireStruct:
		body := r.bytes()
		if skip || r.err != nil {
			break
		}
		switch {
		case v.Kind() == reflect.Struct:
			return decodeStruct(body, v)
		case v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct:
			p := reflect.New(v.Type().Elem())
			if err := decodeStruct(body, p.Elem()); err != nil {
				return err
			}
			v.Set(p)
		default:
			return fmt.Errorf("a struct for a %s", v.Type())
		}
	case wireJSON:
		j := r.bytes()
		if skip || r.err != nil {
			break
		}
		return json.Unmarshal(j, v.Addr().Interface())
	default:
		return fmt.Errorf("unknown wire type %d", wire)
	}
	return r.err
}

// timeIn returns the instant sec.nsec in a zone of offset off seconds, as
// encoding/json would parse it: UTC for 0, Local if Local has that offset
// then, else a fixed zone.
func timeIn(sec, nsec int64, off int) time.Time {
	t := time.Unix(sec, nsec)
	if off == 0 {
		return t.UTC()
	}
	if _, lo := t.Zone(); lo == off {
		return t
	}
	return t.In(time.FixedZone("", off))
}
