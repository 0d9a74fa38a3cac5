package ppapzip

import (
	"encoding/binary"
	"hash/crc32"
)

// Hostile 7z headers (7zFormat.txt): a few dozen bytes whose plain (unencoded) header declares
// a count that a reader allocates for before it finds out the rest of the header is missing.
// github.com/bodgit/sevenzip allocates by such counts while it parses (counts up to 2^32-1).
const (
	// HostileFiles declares count files (kFilesInfo): one FileHeader (about 120 bytes) each.
	HostileFiles = "files"
	// HostileCRCs declares count packed streams each with a CRC ("all defined"): a bool and
	// a uint32 each, the bools written one by one.
	HostileCRCs = "crcs"
)

// HostileSevenZip returns a 7z archive whose header declares count items of kind; it holds
// nothing else, so an honest reader refuses it after the header.
func HostileSevenZip(kind string, count uint32) []byte {
	n := make([]byte, 9)
	n[0] = 0xFF // UINT64 with 8 bytes following
	binary.LittleEndian.PutUint64(n[1:], uint64(count))
	var hdr []byte
	switch kind {
	case HostileFiles:
		hdr = append([]byte{0x01, 0x05}, n...) // kHeader, kFilesInfo, NumFiles
	case HostileCRCs:
		// kHeader, kMainStreamsInfo, kPackInfo, PackPos 0, NumPackStreams, kCRC, AllAreDefined
		hdr = append(append([]byte{0x01, 0x04, 0x06, 0x00}, n...), 0x0A, 0x01)
	default:
		panic("ppapzip: unknown hostile 7z kind " + kind)
	}
	out := make([]byte, 32, 32+len(hdr))
	copy(out, []byte{'7', 'z', 0xBC, 0xAF, 0x27, 0x1C, 0, 4})
	binary.LittleEndian.PutUint64(out[12:], 0)                // NextHeaderOffset
	binary.LittleEndian.PutUint64(out[20:], uint64(len(hdr))) // NextHeaderSize
	binary.LittleEndian.PutUint32(out[28:], crc32.ChecksumIEEE(hdr))
	binary.LittleEndian.PutUint32(out[8:], crc32.ChecksumIEEE(out[12:32]))
	return append(out, hdr...)
}
