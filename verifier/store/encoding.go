package store

import (
	"encoding/binary"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BE64 is n big-endian: the form of IDs and times in keys, so that keys sort as numbers.
func BE64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// BE32 is n big-endian (schema versions, UIDVALIDITY and UID).
func BE32(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

// U64 reads the big-endian uint64 at the start of b, which must hold 8 bytes.
func U64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// U32 reads the big-endian uint32 at the start of b, which must hold 4 bytes.
func U32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

// TimeKey orders instants in keys: Unix nanoseconds, with times before 1970 as 0.
func TimeKey(t time.Time) uint64 {
	if t.Unix() < 0 {
		return 0
	}
	return uint64(t.UnixNano())
}

// TimeIDKey is the key of an index by time: TimeKey(t) then id, both big-endian, so that
// keys sort by time and then by ID.
func TimeIDKey(t time.Time, id uint64) []byte {
	return binary.BigEndian.AppendUint64(BE64(TimeKey(t)), id)
}

// KeyTime is the time at the start of a TimeIDKey.
func KeyTime(k []byte) time.Time { return time.Unix(0, int64(U64(k[:8]))) }

// WithID is an index key: prefix 0x00 id. prefix must not contain a 0 byte, or keys of
// another prefix could fall among its own.
func WithID(prefix string, id uint64) []byte {
	k := make([]byte, 0, len(prefix)+9)
	k = append(k, prefix...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, id)
}

// GetJSON decodes the record stored under id in b into v. It reports false, and leaves v
// alone, when there is none. Decoding copies, so v outlives the transaction.
func GetJSON(b *bolt.Bucket, id uint64, v any) (bool, error) {
	data := b.Get(BE64(id))
	if data == nil {
		return false, nil
	}
	return true, json.Unmarshal(data, v)
}

// PutJSON stores v as JSON under id in b.
func PutJSON(b *bolt.Bucket, id uint64, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(BE64(id), data)
}

// Add adds delta to the counter name in b: an int64, 0 when absent.
func Add(b *bolt.Bucket, name string, delta int64) error {
	return b.Put([]byte(name), BE64(uint64(Count(b, name)+delta)))
}

// Count is the counter name in b, 0 when absent.
func Count(b *bolt.Bucket, name string) int64 {
	if v := b.Get([]byte(name)); len(v) == 8 {
		return int64(U64(v))
	}
	return 0
}
