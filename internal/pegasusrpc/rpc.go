package pegasusrpc

import (
	"encoding/binary"
	"fmt"
)

// RPC identifies one of the calls this codec serves. Numeric task codes
// never travel on the wire (and differ between builds of the C++ server);
// only the names do, so RPC is a local enumeration.
type RPC uint8

const (
	RPCInvalid RPC = iota

	// Meta server.
	RPCQueryConfig // RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX

	// Replica server writes.
	RPCPut            // RPC_RRDB_RRDB_PUT
	RPCMultiPut       // RPC_RRDB_RRDB_MULTI_PUT
	RPCRemove         // RPC_RRDB_RRDB_REMOVE
	RPCMultiRemove    // RPC_RRDB_RRDB_MULTI_REMOVE
	RPCIncr           // RPC_RRDB_RRDB_INCR
	RPCCheckAndSet    // RPC_RRDB_RRDB_CHECK_AND_SET
	RPCCheckAndMutate // RPC_RRDB_RRDB_CHECK_AND_MUTATE

	// Replica server reads.
	RPCGet          // RPC_RRDB_RRDB_GET
	RPCMultiGet     // RPC_RRDB_RRDB_MULTI_GET
	RPCBatchGet     // RPC_RRDB_RRDB_BATCH_GET
	RPCSortkeyCount // RPC_RRDB_RRDB_SORTKEY_COUNT
	RPCTTL          // RPC_RRDB_RRDB_TTL
	RPCGetScanner   // RPC_RRDB_RRDB_GET_SCANNER
	RPCScan         // RPC_RRDB_RRDB_SCAN
	RPCClearScanner // RPC_RRDB_RRDB_CLEAR_SCANNER, one-way

	numRPCs
)

// rpcSpec is everything the codec knows about one RPC. Each entry is the
// `service rrdb` / `service meta` line of the IDL made executable.
type rpcSpec struct {
	name string
	ack  string // empty for one-way RPCs
	// newArgs returns a zero args value of the right concrete type.
	newArgs func() Value
	// newResult returns a zero result value; nil for one-way RPCs.
	newResult func() Value
	isArgs    func(Value) bool
	isResult  func(Value) bool
}

func newOf[T any, P valuePtr[T]]() Value { return P(new(T)) }

func isA[P Value](v Value) bool {
	_, ok := v.(P)
	return ok
}

func spec[A, R any, PA valuePtr[A], PR valuePtr[R]](name string) rpcSpec {
	return rpcSpec{
		name:      name,
		ack:       name + "_ACK",
		newArgs:   newOf[A, PA],
		newResult: newOf[R, PR],
		isArgs:    isA[PA],
		isResult:  isA[PR],
	}
}

var rpcSpecs = [numRPCs]rpcSpec{
	RPCQueryConfig: spec[QueryCfgRequest, QueryCfgResponse]("RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX"),

	RPCPut:            spec[UpdateRequest, UpdateResponse]("RPC_RRDB_RRDB_PUT"),
	RPCMultiPut:       spec[MultiPutRequest, UpdateResponse]("RPC_RRDB_RRDB_MULTI_PUT"),
	RPCRemove:         spec[Blob, UpdateResponse]("RPC_RRDB_RRDB_REMOVE"),
	RPCMultiRemove:    spec[MultiRemoveRequest, MultiRemoveResponse]("RPC_RRDB_RRDB_MULTI_REMOVE"),
	RPCIncr:           spec[IncrRequest, IncrResponse]("RPC_RRDB_RRDB_INCR"),
	RPCCheckAndSet:    spec[CheckAndSetRequest, CheckAndSetResponse]("RPC_RRDB_RRDB_CHECK_AND_SET"),
	RPCCheckAndMutate: spec[CheckAndMutateRequest, CheckAndMutateResponse]("RPC_RRDB_RRDB_CHECK_AND_MUTATE"),

	RPCGet:          spec[Blob, ReadResponse]("RPC_RRDB_RRDB_GET"),
	RPCMultiGet:     spec[MultiGetRequest, MultiGetResponse]("RPC_RRDB_RRDB_MULTI_GET"),
	RPCBatchGet:     spec[BatchGetRequest, BatchGetResponse]("RPC_RRDB_RRDB_BATCH_GET"),
	RPCSortkeyCount: spec[Blob, CountResponse]("RPC_RRDB_RRDB_SORTKEY_COUNT"),
	RPCTTL:          spec[Blob, TTLResponse]("RPC_RRDB_RRDB_TTL"),
	RPCGetScanner:   spec[GetScannerRequest, ScanResponse]("RPC_RRDB_RRDB_GET_SCANNER"),
	RPCScan:         spec[ScanRequest, ScanResponse]("RPC_RRDB_RRDB_SCAN"),

	// clear_scanner is `oneway void clear_scanner(1:i64 context_id)`. The
	// server must never answer it: the Go client has no result type for its
	// ack name and would tear the connection down.
	RPCClearScanner: {
		name:    "RPC_RRDB_RRDB_CLEAR_SCANNER",
		newArgs: newOf[ScanContextID],
		isArgs:  isA[*ScanContextID],
	},
}

// rpcByName and rpcByAck map wire names back to RPCs.
var rpcByName, rpcByAck = func() (map[string]RPC, map[string]RPC) {
	byName, byAck := make(map[string]RPC), make(map[string]RPC)
	for r := RPCInvalid + 1; r < numRPCs; r++ {
		byName[rpcSpecs[r].name] = r
		if rpcSpecs[r].ack != "" {
			byAck[rpcSpecs[r].ack] = r
		}
	}
	return byName, byAck
}()

// LookupRPC returns the RPC with the given request name.
func LookupRPC(name string) (RPC, bool) {
	r, ok := rpcByName[name]
	return r, ok
}

func (r RPC) valid() bool { return r > RPCInvalid && r < numRPCs }

// String returns the request name on the wire.
func (r RPC) String() string {
	if !r.valid() {
		return fmt.Sprintf("RPC(%d)", uint8(r))
	}
	return rpcSpecs[r].name
}

// AckName returns the name responses carry; empty for one-way RPCs.
func (r RPC) AckName() string {
	if !r.valid() {
		return ""
	}
	return rpcSpecs[r].ack
}

// Oneway reports whether the RPC must not be answered.
func (r RPC) Oneway() bool { return r.valid() && rpcSpecs[r].newResult == nil }

// Request is a decoded client call: what a handler needs to route, check
// the deadline, and execute it.
//
// Byte slices inside Args alias the frame body they were decoded from; a
// caller that recycles body buffers must copy what it keeps.
type Request struct {
	Header RequestHeader
	RPC    RPC         // RPCInvalid if the name is unknown
	Name   string      // the name as received
	Type   MessageType // MessageCall (both clients, even for clear_scanner) or MessageOneway
	SeqID  int32

	// Args holds the decoded argument, with this concrete type per RPC:
	//
	//	RPCQueryConfig        *QueryCfgRequest
	//	RPCPut                *UpdateRequest
	//	RPCMultiPut           *MultiPutRequest
	//	RPCRemove, RPCGet,
	//	RPCTTL                *Blob (the encoded key)
	//	RPCSortkeyCount       *Blob (the hash key)
	//	RPCMultiRemove        *MultiRemoveRequest
	//	RPCIncr               *IncrRequest
	//	RPCCheckAndSet        *CheckAndSetRequest
	//	RPCCheckAndMutate     *CheckAndMutateRequest
	//	RPCMultiGet           *MultiGetRequest
	//	RPCBatchGet           *BatchGetRequest
	//	RPCGetScanner         *GetScannerRequest
	//	RPCScan               *ScanRequest
	//	RPCClearScanner       *ScanContextID
	Args Value
}

// DecodeRequest decodes the body of f. On ErrUnknownRPC or a malformed
// argument the returned Request still carries Header, Name and SeqID (and
// RPC when known) so that the caller can answer with Request.AppendReply.
// A missing argument field decodes as the zero value, like generated
// thrift readers; unknown fields are skipped.
func DecodeRequest(f RequestFrame) (Request, error) {
	req := Request{Header: f.Header}
	d := decoder{buf: f.Body}
	name, typ, seqID := d.readMessageBegin()
	if d.err != nil {
		return req, withinFrame("request message header", d.err)
	}
	req.Type, req.SeqID = typ, seqID
	r, ok := rpcByName[string(name)] // no allocation for the lookup
	if !ok {
		req.Name = string(name)
		return req, fmt.Errorf("%w: %q", ErrUnknownRPC, req.Name)
	}
	req.RPC, req.Name = r, rpcSpecs[r].name
	if typ != MessageCall && typ != MessageOneway {
		return req, fmt.Errorf("%w: %s sent as message type %d", ErrMalformed, r, typ)
	}
	args := rpcSpecs[r].newArgs()
	d.readWrapped(argsFieldID, args)
	if d.err != nil {
		return req, withinFrame(r.String()+" args", d.err)
	}
	req.Args = args
	return req, nil
}

// AppendRequest appends req as a complete request frame, in the header
// version req.Header.Version selects. It is the client side of the
// protocol, used by tests and tools. A zero req.Type is sent as
// MessageCall, as the official clients do.
func AppendRequest(b []byte, req *Request) ([]byte, error) {
	if !req.RPC.valid() {
		return b, fmt.Errorf("%w: %v", ErrUnknownRPC, req.RPC)
	}
	if req.Args == nil || !rpcSpecs[req.RPC].isArgs(req.Args) {
		return b, fmt.Errorf("%w: %T is not the argument of %s", ErrTypeMismatch, req.Args, req.RPC)
	}
	typ := req.Type
	if typ == 0 {
		typ = MessageCall
	}
	b, start, bodyStart := beginRequestFrame(b, req.Header)
	b = AppendMessageBegin(b, MessageHeader{Name: req.RPC.String(), Type: typ, SeqID: req.SeqID})
	b = appendWrapped(b, argsFieldID, req.Args)
	return finishRequestFrame(b, req.Header.Version, start, bodyStart), nil
}

// AppendResponse appends the response frame for a call of rpc with the
// given sequence id. With CodeOK, result must be the RPC's response type
// (see Response.Result); with any other code the body is empty and result
// is ignored, which is what the C++ server does and all the clients read.
//
// It refuses to produce bytes that would break a client: an error name
// the clients cannot parse (ErrUnknownErrorCode), a reply to a one-way RPC
// (ErrOneway), or an OK reply with a missing or mistyped result
// (ErrTypeMismatch).
func AppendResponse(b []byte, rpc RPC, seqID int32, code ErrorCode, result Value) ([]byte, error) {
	if !rpc.valid() {
		return b, fmt.Errorf("%w: %v", ErrUnknownRPC, rpc)
	}
	if rpc.Oneway() {
		return b, fmt.Errorf("%w: %s", ErrOneway, rpc)
	}
	if code.IsOK() && (result == nil || !rpcSpecs[rpc].isResult(result)) {
		return b, fmt.Errorf("%w: %T is not the result of %s", ErrTypeMismatch, result, rpc)
	}
	return appendResponse(b, rpcSpecs[rpc].ack, seqID, code, result)
}

// AppendReply appends the response to req, including for a request whose
// RPC is unknown (answered under "<name>_ACK", which the clients do not
// check when the code is not CodeOK). Decoding errors should be answered
// with a non-OK code such as CodeHandlerNotFound or CodeInvalidData.
func (req *Request) AppendReply(b []byte, code ErrorCode, result Value) ([]byte, error) {
	if req.RPC.valid() {
		return AppendResponse(b, req.RPC, req.SeqID, code, result)
	}
	if code.IsOK() {
		return b, fmt.Errorf("%w: cannot answer unknown rpc %q with %s", ErrTypeMismatch, req.Name, code)
	}
	return appendResponse(b, req.Name+"_ACK", req.SeqID, code, nil)
}

func appendResponse(b []byte, ack string, seqID int32, code ErrorCode, result Value) ([]byte, error) {
	if !code.Known() {
		return b, fmt.Errorf("%w: %q", ErrUnknownErrorCode, string(code))
	}
	start := len(b)
	b = AppendResponseFrame(b, ResponseFrame{Err: code, Name: ack, SeqID: seqID})
	if !code.IsOK() {
		return b, nil
	}
	b = appendWrapped(b, resultFieldID, result)
	// AppendResponseFrame measured an empty body; account for the result.
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b, nil
}

// Response is a decoded response, the client side of the protocol.
type Response struct {
	RPC   RPC // RPCInvalid when Err is not CodeOK and the ack name is unknown
	Name  string
	SeqID int32
	Err   ErrorCode
	// Result is set only when Err is CodeOK, with this concrete type:
	//
	//	RPCQueryConfig                 *QueryCfgResponse
	//	RPCPut, RPCMultiPut, RPCRemove *UpdateResponse
	//	RPCMultiRemove                 *MultiRemoveResponse
	//	RPCIncr                        *IncrResponse
	//	RPCCheckAndSet                 *CheckAndSetResponse
	//	RPCCheckAndMutate              *CheckAndMutateResponse
	//	RPCGet                         *ReadResponse
	//	RPCMultiGet                    *MultiGetResponse
	//	RPCBatchGet                    *BatchGetResponse
	//	RPCSortkeyCount                *CountResponse
	//	RPCTTL                         *TTLResponse
	//	RPCGetScanner, RPCScan         *ScanResponse
	Result Value
}

// DecodeResponse decodes f the way the Go client does: an unknown error
// name is an error; a non-OK response carries no result; an OK response
// must carry the ack name of a known RPC and its result in field 0.
func DecodeResponse(f ResponseFrame) (Response, error) {
	resp := Response{Name: f.Name, SeqID: f.SeqID, Err: f.Err}
	if !f.Err.Known() {
		return resp, fmt.Errorf("%w: %q", ErrUnknownErrorCode, string(f.Err))
	}
	resp.RPC = rpcByAck[f.Name]
	if !f.Err.IsOK() {
		return resp, nil
	}
	if !resp.RPC.valid() {
		return resp, fmt.Errorf("%w: ack name %q", ErrUnknownRPC, f.Name)
	}
	result := rpcSpecs[resp.RPC].newResult()
	d := decoder{buf: f.Body}
	found := d.readWrapped(resultFieldID, result)
	if d.err != nil {
		return resp, withinFrame(f.Name+" result", d.err)
	}
	if !found {
		return resp, fmt.Errorf("%w: %s has no result field", ErrTypeMismatch, f.Name)
	}
	resp.Result = result
	return resp, nil
}
