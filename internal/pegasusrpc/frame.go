package pegasusrpc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Request frames. Every request starts with the magic "THFT" and a u32
// header version; the C++ server dispatches on the magic per connection.
// Two versions exist:
//
// Version 0 (Go, Python and Node clients): a fixed 48-byte header.
//
//	off size field
//	  0    4 "THFT"
//	  4    4 u32 hdr_version = 0
//	  8    4 u32 hdr_length = 48 (anything else is rejected)
//	 12    4 u32 hdr_crc32 (0, ignored)
//	 16    4 u32 body_length
//	 20    4 u32 body_crc32 (0, ignored)
//	 24    4 i32 app_id
//	 28    4 i32 partition_index
//	 32    4 u32 client_timeout (ms)
//	 36    4 i32 thread_hash = app_id*7919 + partition_index
//	 40    8 u64 partition_hash
//	 48      body
//
// Version 1 (Java client): a 16-byte header followed by a thrift-encoded
// request_meta struct, then the body.
//
//	off size field
//	  0    4 "THFT"
//	  4    4 u32 hdr_version = 1
//	  8    4 u32 meta_length
//	 12    4 u32 body_length
//	 16      request_meta (meta_length bytes), then body
//
// The body is a thrift message: message begin, the args struct, and an
// empty message end. The checksums are never filled by clients nor checked
// by the C++ server; TCP already protects the stream.

const (
	frameMagic = "THFT"

	HeaderVersion0 = 0
	HeaderVersion1 = 1

	headerV0Len = 48
	headerV1Len = 16
	// magicAndVersionLen is what must be read before the header length is
	// known.
	magicAndVersionLen = 8

	// DefaultMaxBodySize is the body limit a listener should use unless
	// configured otherwise; it is far above any legitimate request (the
	// C++ server caps values well below it) and bounds what one frame can
	// make us buffer.
	DefaultMaxBodySize = 64 << 20

	// maxRequestMetaLen bounds the v1 request_meta. The struct is about 40
	// bytes; 4 KiB leaves room for fields added by future clients.
	maxRequestMetaLen = 4 << 10

	// initialBodyAlloc is how much ReadRequestFrame and ReadResponseFrame
	// allocate before any body byte has arrived; the buffer then grows as
	// data actually arrives, so a peer that announces a large body and
	// sends nothing costs at most this much.
	initialBodyAlloc = 64 << 10
)

// RequestHeader is the routing and deadline information of a request,
// independent of the header version it arrived in.
type RequestHeader struct {
	// Version is HeaderVersion0 or HeaderVersion1; encoders use it to pick
	// the layout.
	Version uint32
	// Gpid is the target partition; {0, 0} for meta server calls.
	Gpid Gpid
	// ClientTimeout is the time the client will still wait, in
	// milliseconds. A server may drop a request whose deadline has passed.
	ClientTimeout uint32
	// ThreadHash is carried by v0 headers; for v1 it is derived from Gpid,
	// as the C++ server does.
	ThreadHash int32
	// PartitionHash is the routing hash of the request's key (see
	// HashKeyHash); 0 for meta calls. The server can recompute the
	// partition from it to detect a client with stale routing.
	PartitionHash uint64
	// IsBackupRequest marks a read that may be served by a secondary
	// (v1 only; always false for v0).
	IsBackupRequest bool
}

// RequestFrame is one request as it travels on the wire: header plus the
// undecoded thrift body.
type RequestFrame struct {
	Header RequestHeader
	Body   []byte
}

// fixedHeader is what the fixed-size part of a request header says.
type fixedHeader struct {
	header  RequestHeader // complete for v0; only Version for v1
	len     int           // bytes of the fixed part: 48 or 16
	metaLen int           // v1 only
	bodyLen int
}

// headerVersion checks the magic and returns the header version and the
// length of the fixed header part. b holds at least magicAndVersionLen
// bytes.
func headerVersion(b []byte) (version uint32, fixedLen int, err error) {
	if string(b[:4]) != frameMagic {
		return 0, 0, fmt.Errorf("%w: %q", ErrBadMagic, b[:4])
	}
	switch version = binary.BigEndian.Uint32(b[4:8]); version {
	case HeaderVersion0:
		return version, headerV0Len, nil
	case HeaderVersion1:
		return version, headerV1Len, nil
	default:
		return 0, 0, fmt.Errorf("%w: version %d", ErrBadHeader, version)
	}
}

// parseFixedHeader decodes the fixed part of a request header and checks
// the announced lengths against the limits, before anything is allocated
// for them. b holds exactly the fixed part.
func parseFixedHeader(b []byte, maxBodySize int) (fixedHeader, error) {
	version, fixedLen, err := headerVersion(b)
	if err != nil {
		return fixedHeader{}, err
	}
	be := binary.BigEndian
	fh := fixedHeader{header: RequestHeader{Version: version}, len: fixedLen}
	var bodyLen uint32
	if version == HeaderVersion0 {
		if hdrLen := be.Uint32(b[8:12]); hdrLen != headerV0Len {
			return fixedHeader{}, fmt.Errorf("%w: v0 hdr_length %d, want %d", ErrBadHeader, hdrLen, headerV0Len)
		}
		bodyLen = be.Uint32(b[16:20])
		fh.header.Gpid = Gpid{AppID: int32(be.Uint32(b[24:28])), PartitionIndex: int32(be.Uint32(b[28:32]))}
		fh.header.ClientTimeout = be.Uint32(b[32:36])
		fh.header.ThreadHash = int32(be.Uint32(b[36:40]))
		fh.header.PartitionHash = be.Uint64(b[40:48])
	} else {
		metaLen := be.Uint32(b[8:12])
		if metaLen > maxRequestMetaLen {
			return fixedHeader{}, fmt.Errorf("%w: v1 meta_length %d exceeds %d", ErrBadHeader, metaLen, maxRequestMetaLen)
		}
		fh.metaLen = int(metaLen)
		bodyLen = be.Uint32(b[12:16])
	}
	if uint64(bodyLen) > uint64(maxBodySize) {
		return fixedHeader{}, fmt.Errorf("%w: body of %d bytes exceeds %d", ErrFrameTooLarge, bodyLen, maxBodySize)
	}
	fh.bodyLen = int(bodyLen)
	return fh, nil
}

// applyRequestMeta decodes a v1 request_meta into h.
func applyRequestMeta(h *RequestHeader, meta []byte) error {
	var m RequestMeta
	d := decoder{buf: meta}
	m.readValue(&d)
	if d.err != nil {
		// meta_length said these bytes are the whole struct, so a decode
		// failure is a bad header, never a reason to wait for more input.
		return fmt.Errorf("%w: request_meta: %v", ErrBadHeader, d.err)
	}
	h.Gpid = Gpid{AppID: m.AppID, PartitionIndex: m.PartitionIndex}
	h.ClientTimeout = uint32(m.ClientTimeout)
	h.ThreadHash = h.Gpid.ThreadHash()
	h.PartitionHash = m.PartitionHash
	h.IsBackupRequest = m.IsBackupRequest
	return nil
}

func limitOrDefault(maxBodySize int) int {
	if maxBodySize <= 0 {
		return DefaultMaxBodySize
	}
	return maxBodySize
}

// DecodeRequestFrame decodes the request frame at the start of b and
// returns it with the number of bytes it occupies. The body aliases b. If
// b holds only part of a frame the error wraps ErrTruncated, so a caller
// that buffers input itself can wait for more bytes. maxBodySize <= 0
// selects DefaultMaxBodySize.
func DecodeRequestFrame(b []byte, maxBodySize int) (RequestFrame, int, error) {
	maxBodySize = limitOrDefault(maxBodySize)
	if len(b) < magicAndVersionLen {
		return RequestFrame{}, 0, fmt.Errorf("%w: %d bytes of request header", ErrTruncated, len(b))
	}
	_, fixedLen, err := headerVersion(b)
	if err != nil {
		return RequestFrame{}, 0, err
	}
	if len(b) < fixedLen {
		return RequestFrame{}, 0, fmt.Errorf("%w: %d of %d header bytes", ErrTruncated, len(b), fixedLen)
	}
	fh, err := parseFixedHeader(b[:fixedLen], maxBodySize)
	if err != nil {
		return RequestFrame{}, 0, err
	}
	total := fh.len + fh.metaLen + fh.bodyLen
	if len(b) < total {
		return RequestFrame{}, 0, fmt.Errorf("%w: %d of %d frame bytes", ErrTruncated, len(b), total)
	}
	if fh.header.Version == HeaderVersion1 {
		if err := applyRequestMeta(&fh.header, b[fh.len:fh.len+fh.metaLen]); err != nil {
			return RequestFrame{}, 0, err
		}
	}
	body := b[fh.len+fh.metaLen : total : total]
	return RequestFrame{Header: fh.header, Body: body}, total, nil
}

// ReadRequestFrame reads one request frame from r. It returns io.EOF if r
// ends cleanly before the first byte of a frame; a frame cut short yields
// an error wrapping ErrTruncated. Memory for the body grows with the bytes
// actually received, so an announced length alone cannot make it allocate
// much. maxBodySize <= 0 selects DefaultMaxBodySize.
func ReadRequestFrame(r io.Reader, maxBodySize int) (RequestFrame, error) {
	f, _, err := ReadRequestFrameReserve(r, maxBodySize, nil)
	return f, err
}

// Reserve is called by ReadRequestFrameReserve once a frame's header is
// read and checked, with the bytes the rest of the frame will take, before
// any of them is buffered. It may wait (for memory held by other
// connections to be freed); an error ends the read. release gives the
// bytes back.
type Reserve func(n int) (release func(), err error)

// ReadRequestFrameReserve is ReadRequestFrame that calls reserve (when not
// nil) before buffering the frame's request_meta and body. On success the
// caller owns release and calls it once the request is done with; on error
// the bytes were already given back.
func ReadRequestFrameReserve(r io.Reader, maxBodySize int, reserve Reserve) (f RequestFrame, release func(), err error) {
	release = func() {}
	f, err = readRequestFrame(r, maxBodySize, func(n int) error {
		if reserve == nil {
			return nil
		}
		rel, err := reserve(n)
		if err == nil {
			release = rel
		}
		return err
	})
	if err != nil {
		release()
		return RequestFrame{}, func() {}, err
	}
	return f, release, nil
}

func readRequestFrame(r io.Reader, maxBodySize int, reserve func(int) error) (RequestFrame, error) {
	maxBodySize = limitOrDefault(maxBodySize)
	var hdr [headerV0Len]byte
	if _, err := io.ReadFull(r, hdr[:magicAndVersionLen]); err != nil {
		if errors.Is(err, io.EOF) {
			return RequestFrame{}, io.EOF
		}
		return RequestFrame{}, readError("request header", err)
	}
	_, fixedLen, err := headerVersion(hdr[:magicAndVersionLen])
	if err != nil {
		return RequestFrame{}, err
	}
	if _, err := io.ReadFull(r, hdr[magicAndVersionLen:fixedLen]); err != nil {
		return RequestFrame{}, readError("request header", err)
	}
	fh, err := parseFixedHeader(hdr[:fixedLen], maxBodySize)
	if err != nil {
		return RequestFrame{}, err
	}
	if err := reserve(fh.metaLen + fh.bodyLen); err != nil {
		return RequestFrame{}, err
	}
	if fh.header.Version == HeaderVersion1 {
		meta := make([]byte, fh.metaLen) // bounded by maxRequestMetaLen
		if _, err := io.ReadFull(r, meta); err != nil {
			return RequestFrame{}, readError("request_meta", err)
		}
		if err := applyRequestMeta(&fh.header, meta); err != nil {
			return RequestFrame{}, err
		}
	}
	body, err := readGrowing(r, fh.bodyLen)
	if err != nil {
		return RequestFrame{}, readError("request body", err)
	}
	return RequestFrame{Header: fh.header, Body: body}, nil
}

// readGrowing reads exactly n bytes, growing its buffer (by doubling) only
// as data arrives.
func readGrowing(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, min(n, initialBodyAlloc))
	got := 0
	for {
		m, err := io.ReadFull(r, buf[got:])
		got += m
		if err != nil {
			return nil, err
		}
		if got == n {
			return buf, nil
		}
		buf = append(buf, make([]byte, min(n, 2*len(buf))-len(buf))...)
	}
}

// readError turns a short read into ErrTruncated and keeps other I/O
// errors (timeouts, resets) visible to the caller.
func readError(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s: %w", ErrTruncated, what, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("pegasusrpc: reading %s: %w", what, err)
}

// AppendRequestFrame appends f in the layout selected by f.Header.Version.
// For v1 it encodes a request_meta from the header.
func AppendRequestFrame(b []byte, f RequestFrame) []byte {
	b, start, bodyStart := beginRequestFrame(b, f.Header)
	b = append(b, f.Body...)
	return finishRequestFrame(b, f.Header.Version, start, bodyStart)
}

// beginRequestFrame appends the header (with length placeholders) and, for
// v1, the request_meta. The caller appends the body and then calls
// finishRequestFrame, so a request is encoded in one buffer, in one pass.
func beginRequestFrame(b []byte, h RequestHeader) (out []byte, start, bodyStart int) {
	start = len(b)
	b = append(b, frameMagic...)
	if h.Version == HeaderVersion1 {
		b = appendI32(b, HeaderVersion1)
		b = appendI32(b, 0) // meta_length, patched below
		b = appendI32(b, 0) // body_length, patched by finishRequestFrame
		meta := RequestMeta{
			AppID:           h.Gpid.AppID,
			PartitionIndex:  h.Gpid.PartitionIndex,
			ClientTimeout:   int32(h.ClientTimeout),
			PartitionHash:   h.PartitionHash,
			IsBackupRequest: h.IsBackupRequest,
		}
		b = meta.appendValue(b)
		binary.BigEndian.PutUint32(b[start+8:], uint32(len(b)-start-headerV1Len))
		return b, start, len(b)
	}
	b = appendI32(b, HeaderVersion0)
	b = appendI32(b, headerV0Len)
	b = appendI32(b, 0) // hdr_crc32
	b = appendI32(b, 0) // body_length, patched by finishRequestFrame
	b = appendI32(b, 0) // body_crc32
	b = appendI32(b, h.Gpid.AppID)
	b = appendI32(b, h.Gpid.PartitionIndex)
	b = appendI32(b, int32(h.ClientTimeout))
	b = appendI32(b, h.ThreadHash)
	b = appendI64(b, int64(h.PartitionHash))
	return b, start, len(b)
}

func finishRequestFrame(b []byte, version uint32, start, bodyStart int) []byte {
	bodyLen := uint32(len(b) - bodyStart)
	if version == HeaderVersion1 {
		binary.BigEndian.PutUint32(b[start+12:], bodyLen)
	} else {
		binary.BigEndian.PutUint32(b[start+16:], bodyLen)
	}
	return b
}

// Response frames, as written by the C++ server and read by the clients:
//
//	i32    total_length, counting these 4 bytes
//	string rpc-level error name (ErrorCode), e.g. "ERR_OK"
//	       message begin: strict REPLY, ack name, the request's seqid
//	       body: the result struct (field 0 = response) only when the
//	       error is ERR_OK; empty otherwise
//
// There is no magic and no version: the direction of the stream tells the
// reader which layout to expect.

// ResponseFrame is one response with its body left encoded.
type ResponseFrame struct {
	Err   ErrorCode
	Name  string // the ack name, e.g. "RPC_RRDB_RRDB_GET_ACK"
	SeqID int32
	Body  []byte
}

// AppendResponseFrame appends f. It does not validate f.Err; see
// AppendResponse for the checked, typed encoder.
func AppendResponseFrame(b []byte, f ResponseFrame) []byte {
	start := len(b)
	b = appendI32(b, 0) // total_length, patched below
	b = appendString(b, string(f.Err))
	b = AppendMessageBegin(b, MessageHeader{Name: f.Name, Type: MessageReply, SeqID: f.SeqID})
	b = append(b, f.Body...)
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// responseLengthLen is the size of total_length, which counts itself.
const responseLengthLen = 4

// DecodeResponseFrame decodes the response frame at the start of b and
// returns it with the number of bytes it occupies; the body aliases b. A
// frame whose total_length exceeds maxSize (<= 0: DefaultMaxBodySize) is
// rejected from the length alone.
func DecodeResponseFrame(b []byte, maxSize int) (ResponseFrame, int, error) {
	maxSize = limitOrDefault(maxSize)
	if len(b) < responseLengthLen {
		return ResponseFrame{}, 0, fmt.Errorf("%w: %d bytes of response length", ErrTruncated, len(b))
	}
	total, err := checkResponseLength(binary.BigEndian.Uint32(b), maxSize)
	if err != nil {
		return ResponseFrame{}, 0, err
	}
	if len(b) < total {
		return ResponseFrame{}, 0, fmt.Errorf("%w: %d of %d response bytes", ErrTruncated, len(b), total)
	}
	f, err := parseResponse(b[responseLengthLen:total:total])
	if err != nil {
		return ResponseFrame{}, 0, err
	}
	return f, total, nil
}

// ReadResponseFrame reads one response frame from r, with the same
// conventions as ReadRequestFrame.
func ReadResponseFrame(r io.Reader, maxSize int) (ResponseFrame, error) {
	maxSize = limitOrDefault(maxSize)
	var lenBuf [responseLengthLen]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return ResponseFrame{}, io.EOF
		}
		return ResponseFrame{}, readError("response length", err)
	}
	total, err := checkResponseLength(binary.BigEndian.Uint32(lenBuf[:]), maxSize)
	if err != nil {
		return ResponseFrame{}, err
	}
	payload, err := readGrowing(r, total-responseLengthLen)
	if err != nil {
		return ResponseFrame{}, readError("response", err)
	}
	return parseResponse(payload)
}

func checkResponseLength(total uint32, maxSize int) (int, error) {
	if total < responseLengthLen {
		return 0, fmt.Errorf("%w: response length %d smaller than %d", ErrBadHeader, total, responseLengthLen)
	}
	if uint64(total-responseLengthLen) > uint64(maxSize) {
		return 0, fmt.Errorf("%w: response of %d bytes exceeds %d", ErrFrameTooLarge, total, maxSize)
	}
	return int(total), nil
}

// parseResponse decodes everything after total_length.
func parseResponse(payload []byte) (ResponseFrame, error) {
	d := decoder{buf: payload}
	code := ErrorCode(d.string())
	name, _, seqID := d.readMessageBegin()
	if d.err != nil {
		return ResponseFrame{}, withinFrame("response header", d.err)
	}
	return ResponseFrame{Err: code, Name: string(name), SeqID: seqID, Body: payload[d.off:]}, nil
}

// withinFrame labels a decode error found inside a complete frame. The
// frame's length said all its bytes are present, so running out of them
// means the content is malformed; reporting ErrTruncated would make a
// buffering caller wait for input that belongs to the next frame.
func withinFrame(what string, err error) error {
	if errors.Is(err, ErrTruncated) {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
