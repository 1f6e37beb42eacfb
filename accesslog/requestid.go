package accesslog

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
)

// IDs hands out request IDs: 16 hex digits, unique in the process and,
// with a random seed per process, across instances. A request pays an
// atomic add and a mix, not a read of crypto/rand.
type IDs struct {
	seed    uint64
	counter atomic.Uint64
}

// NewIDs returns a source of request IDs with a random seed.
func NewIDs() *IDs {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24)
	return &IDs{seed: binary.LittleEndian.Uint64(b[:])}
}

// Next returns a new request ID (see Fill).
func (ids *IDs) Next() string {
	var h [IDLen]byte
	ids.Fill(&h)
	return string(h[:])
}

// IDLen is the length of the IDs IDs makes: 16 hexadecimal digits.
const IDLen = 16

// Fill writes a new request ID into h, for a caller that keeps it without
// allocating. splitmix64's finalizer, a bijection, spreads consecutive
// counters over the whole space, so that IDs do not look sequential and
// two processes' seeds do not make overlapping runs.
func (ids *IDs) Fill(h *[IDLen]byte) {
	z := ids.seed + ids.counter.Add(1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], z)
	hex.Encode(h[:], b[:])
}

// maxRequestIDLen bounds an X-Request-Id kept from a trusted proxy.
const maxRequestIDLen = 128

// ValidRequestID reports whether id, received from a trusted proxy, may be
// kept: 1 to 128 visible ASCII characters other than a quote or a
// backslash, so that it cannot break a log line or a header.
func ValidRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
