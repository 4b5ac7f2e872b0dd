package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/klauspost/compress/zstd"
)

// A compressed backup is a standard zstd stream of the database file
// followed by one zstd skippable frame (RFC 8878 §3.1.2), the trailer,
// which every zstd decoder passes over:
//
//	zstd frame(s): the database file, with zstd's own content checksum
//	skippable frame: magic 0x184D2A5B (LE), length 116 (LE), then the text
//	    "starsbot backup 1\n"
//	    "sha256 <64 hex digits: SHA-256 of the database file>\n"
//	    "size <20 digits: the database file's bytes>\n"
//
// So `zstd -d` turns it back into the database file, `tail -c 116` shows
// its checksum, and Decompress refuses it unless the decompressed bytes
// have exactly that size and SHA-256. The checksum travels inside the
// file: a copy sent to chat or uploaded to S3 carries its own.

// Ext is the file name extension of a compressed backup.
const Ext = ".db.zst"

const (
	trailerMagic   = 0x184D2A5B
	trailerHeader  = "starsbot backup 1\n"
	trailerPayload = len(trailerHeader) + len("sha256 \n") + 64 + len("size \n") + 20
	trailerLen     = int64(8 + trailerPayload)
)

// zstdMagic starts every zstd frame (RFC 8878 §3.1.1); a bbolt file starts
// with its meta page instead.
var zstdMagic = []byte{0x28, 0xB5, 0x2F, 0xFD}

// ErrCorrupt is wrapped by every error of Decompress that means the file
// is damaged, cut short or not a starsbot backup.
var ErrCorrupt = errors.New("not an intact starsbot backup")

// Result describes one compressed backup.
type Result struct {
	Size       int64  // bytes of the database file
	Compressed int64  // bytes of the compressed backup, trailer included
	SHA256     string // of the database file, lowercase hex
}

// Ratio is Size over Compressed.
func (r Result) Ratio() float64 {
	if r.Compressed == 0 {
		return 0
	}
	return float64(r.Size) / float64(r.Compressed)
}

// SnapshotFunc writes a consistent snapshot of the database to w and
// returns its size (store.DB.WriteTo).
type SnapshotFunc func(w io.Writer) (int64, error)

// Compress writes snapshot's output to w as a compressed backup.
func Compress(w io.Writer, snapshot SnapshotFunc) (Result, error) {
	cw := &countingWriter{w: w}
	// One encoder goroutine: the machine's other cores serve the shop.
	enc, err := zstd.NewWriter(cw, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true))
	if err != nil {
		return Result{}, err
	}
	h := sha256.New()
	size, err := snapshot(io.MultiWriter(enc, h))
	if err != nil {
		enc.Close()
		return Result{}, fmt.Errorf("snapshot: %w", err)
	}
	if err := enc.Close(); err != nil {
		return Result{}, fmt.Errorf("compress: %w", err)
	}
	res := Result{Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}
	if _, err := cw.Write(trailer(res)); err != nil {
		return Result{}, err
	}
	res.Compressed = cw.n
	return res, nil
}

func trailer(r Result) []byte {
	b := make([]byte, 8, 8+trailerPayload)
	binary.LittleEndian.PutUint32(b[0:4], trailerMagic)
	binary.LittleEndian.PutUint32(b[4:8], uint32(trailerPayload))
	b = fmt.Appendf(b, "%ssha256 %s\nsize %020d\n", trailerHeader, r.SHA256, r.Size)
	return b
}

// parseTrailer reads the trailer at the end of a file of the given size.
func parseTrailer(r io.ReaderAt, size int64) (Result, error) {
	if size < int64(len(zstdMagic))+trailerLen {
		return Result{}, fmt.Errorf("%w: %d bytes is too short", ErrCorrupt, size)
	}
	b := make([]byte, trailerLen)
	if _, err := r.ReadAt(b, size-trailerLen); err != nil {
		return Result{}, err
	}
	if binary.LittleEndian.Uint32(b[0:4]) != trailerMagic || binary.LittleEndian.Uint32(b[4:8]) != uint32(trailerPayload) || !bytes.HasPrefix(b[8:], []byte(trailerHeader)) {
		return Result{}, fmt.Errorf("%w: its checksum trailer is missing (cut short, or not written by starsbot)", ErrCorrupt)
	}
	var res Result
	p := string(b[8+len(trailerHeader):])
	sum, ok1 := cutField(&p, "sha256 ", 64)
	n, ok2 := cutField(&p, "size ", 20)
	if _, err := hex.DecodeString(sum); !ok1 || !ok2 || err != nil {
		return Result{}, fmt.Errorf("%w: its checksum trailer is damaged", ErrCorrupt)
	}
	res.SHA256 = sum
	if res.Size, _ = strconv.ParseInt(n, 10, 64); res.Size <= 0 {
		return Result{}, fmt.Errorf("%w: its checksum trailer is damaged", ErrCorrupt)
	}
	res.Compressed = size
	return res, nil
}

// cutField takes "<prefix><n characters>\n" from the front of *p.
func cutField(p *string, prefix string, n int) (string, bool) {
	s := *p
	if len(s) < len(prefix)+n+1 || s[:len(prefix)] != prefix || s[len(prefix)+n] != '\n' {
		return "", false
	}
	*p = s[len(prefix)+n+1:]
	return s[len(prefix) : len(prefix)+n], true
}

// IsCompressed reports whether the file at path starts like a zstd stream
// (and so is a compressed backup rather than a plain database file).
func IsCompressed(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, len(zstdMagic))
	if _, err := io.ReadFull(f, head); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, err
	}
	return bytes.Equal(head, zstdMagic), nil
}

// Decompress writes the database file held in the compressed backup f to
// w, and verifies on the way that it is exactly the file that was backed
// up: zstd's frame checksum, then the size and SHA-256 of the trailer.
// Any mismatch returns an error wrapping ErrCorrupt; w may then have
// received part of the data, so write to a staging file.
func Decompress(f *os.File, w io.Writer) (Result, error) {
	st, err := f.Stat()
	if err != nil {
		return Result{}, err
	}
	want, err := parseTrailer(f, st.Size())
	if err != nil {
		return Result{}, err
	}
	dec, err := zstd.NewReader(io.NewSectionReader(f, 0, st.Size()-trailerLen), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<27))
	if err != nil {
		return Result{}, err
	}
	defer dec.Close()
	h := sha256.New()
	dst := &destWriter{w: w}
	// One byte more than the trailer says: a longer stream is refused
	// rather than written out whole.
	n, err := io.Copy(io.MultiWriter(dst, h), io.LimitReader(dec, want.Size+1))
	if dst.err != nil {
		return Result{}, dst.err // the destination failed, not the backup
	}
	if err != nil {
		return Result{}, fmt.Errorf("%w: the compressed data is damaged: %v", ErrCorrupt, err)
	}
	if n != want.Size {
		return Result{}, fmt.Errorf("%w: it holds %d bytes where its trailer says %d", ErrCorrupt, n, want.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.SHA256 {
		return Result{}, fmt.Errorf("%w: SHA-256 mismatch (the data gives %s, the trailer says %s)", ErrCorrupt, got, want.SHA256)
	}
	return want, nil
}

// Verify decompresses the backup at path without keeping the output and
// reports whether it is intact.
func Verify(path string) (Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	return Decompress(f, io.Discard)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// destWriter remembers the destination's own error, to tell it from a
// damaged backup.
type destWriter struct {
	w   io.Writer
	err error
}

func (d *destWriter) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	if err != nil && d.err == nil {
		d.err = err
	}
	return n, err
}
