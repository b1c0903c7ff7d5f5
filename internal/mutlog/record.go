package mutlog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Record is one entry of the log: the mutation Data prepared for Decree under
// Ballot. The log does not interpret Data.
type Record struct {
	Decree int64
	Ballot int64
	Data   []byte
}

// Frame layout (little endian), see doc.go:
//
//	0   u32  length    bytes after the first 8: 24 + len(payload)
//	4   u32  checksum  CRC32C over bytes [0,4) then [8,end)
//	8   u64  batch     segment offset at which this frame's write batch starts
//	16  i64  decree
//	24  i64  ballot
//	32  ...  payload
const (
	framePrefixLen = 8
	frameHeaderLen = 32
	frameBodyMin   = frameHeaderLen - framePrefixLen

	// maxPayloadLen bounds what a frame may claim to carry. A larger length
	// field is corruption, never an allocation size to trust.
	maxPayloadLen = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// frameLen is the encoded size of a record carrying n payload bytes.
func frameLen(n int) int { return frameHeaderLen + n }

// appendFrame encodes rec at the end of dst with a zero batch offset and no
// checksum: the writer knows the batch offset only when it lays the batch
// out, and seals the frame then.
func appendFrame(dst []byte, rec Record) []byte {
	var h [frameHeaderLen]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(frameBodyMin+len(rec.Data)))
	binary.LittleEndian.PutUint64(h[16:24], uint64(rec.Decree))
	binary.LittleEndian.PutUint64(h[24:32], uint64(rec.Ballot))
	dst = append(dst, h[:]...)
	return append(dst, rec.Data...)
}

// sealFrame stores the batch offset into the encoded frame f and then its
// checksum, which covers the batch offset too.
func sealFrame(f []byte, batchOff int64) {
	binary.LittleEndian.PutUint64(f[8:16], uint64(batchOff))
	binary.LittleEndian.PutUint32(f[4:8], frameChecksum(f))
}

// frameChecksum covers the length field as well as the body, so a damaged
// length cannot make a shorter or longer span look valid.
func frameChecksum(f []byte) uint32 {
	crc := crc32.Update(0, castagnoli, f[0:4])
	return crc32.Update(crc, castagnoli, f[framePrefixLen:])
}

// frameBodyLen reads the length field of the frame at the start of b (which
// must hold at least framePrefixLen bytes) and reports whether it is in
// range.
func frameBodyLen(b []byte) (int, bool) {
	n := binary.LittleEndian.Uint32(b[0:4])
	return int(n), n >= frameBodyMin && n <= frameBodyMin+maxPayloadLen
}

// decodeFrame decodes the frame at the start of b. It returns the record
// (whose Data aliases b), the batch offset stored in the frame and the
// frame's encoded size.
func decodeFrame(b []byte) (rec Record, batchOff int64, n int, err error) {
	if len(b) < framePrefixLen {
		return Record{}, 0, 0, errFrameShort
	}
	bodyLen, ok := frameBodyLen(b)
	if !ok {
		return Record{}, 0, 0, fmt.Errorf("%w: %d", errFrameLength, bodyLen)
	}
	n = framePrefixLen + bodyLen
	if len(b) < n {
		return Record{}, 0, 0, errFrameShort
	}
	f := b[:n]
	if got, want := frameChecksum(f), binary.LittleEndian.Uint32(f[4:8]); got != want {
		return Record{}, 0, 0, fmt.Errorf("%w: computed %08x, stored %08x", errFrameChecksum, got, want)
	}
	rec = Record{
		Decree: int64(binary.LittleEndian.Uint64(f[16:24])),
		Ballot: int64(binary.LittleEndian.Uint64(f[24:32])),
		Data:   f[frameHeaderLen:],
	}
	batchOff = int64(binary.LittleEndian.Uint64(f[8:16]))
	// A checksummed frame the writer could never have produced means a
	// bug or deliberate tampering; treat it like any other damage.
	if err := validateRecord(rec); err != nil || batchOff < 0 {
		return Record{}, 0, 0, errFrameInvalid
	}
	return rec, batchOff, n, nil
}

// validateRecord checks what the log itself relies on: decrees start at 1
// (0 means "none" in FirstDecree and LastDecree) and ballots are not
// negative.
func validateRecord(rec Record) error {
	if rec.Decree < 1 || rec.Ballot < 0 {
		return fmt.Errorf("%w: decree %d ballot %d", ErrInvalidRecord, rec.Decree, rec.Ballot)
	}
	return nil
}
