// Package pegasusrpc is the wire codec of the Apache Pegasus client
// protocol: the "THFT" request frames, the thrift binary bodies and every
// struct the official clients exchange with meta and replica servers, the
// rDSN error names, and key encoding and partition hashing. It lets the
// meta and replica servers open a second port that the unmodified official
// Go and Java clients can talk to.
//
// The package is pure: no sockets, goroutines or clocks. A listener is
// written on top of it as
//
//	for {
//		frame, err := pegasusrpc.ReadRequestFrame(conn, pegasusrpc.DefaultMaxBodySize)
//		if err != nil {
//			return err // io.EOF or a framing error: close the connection
//		}
//		req, err := pegasusrpc.DecodeRequest(frame)
//		var code pegasusrpc.ErrorCode
//		var result pegasusrpc.Value
//		switch {
//		case errors.Is(err, pegasusrpc.ErrUnknownRPC):
//			code = pegasusrpc.CodeHandlerNotFound // answer and keep the connection
//		case err != nil:
//			code = pegasusrpc.CodeInvalidData
//		case req.RPC.Oneway():
//			handleOneway(req) // clear_scanner: never answered
//			continue
//		default:
//			// req.Header has the gpid, partition hash and client timeout.
//			code, result = handle(req)
//		}
//		out, err = req.AppendReply(out[:0], code, result)
//		...write out...
//	}
//
// Responses may be written in any order; clients match them by SeqID.
//
// # Coverage
//
// The layouts follow the IDL of apache/incubator-pegasus (idl/dsn.thrift,
// idl/dsn.layer2.thrift, idl/rrdb.thrift) and the hand-written codecs of
// its clients as of the 2.6 development line (commit db756dcdf24e):
//
//   - Go client (go-client, thrift 0.13): v0 request headers; query_cfg,
//     put, multi_put, remove, multi_remove, incr, check_and_set, get,
//     multi_get, sortkey_count, ttl, get_scanner, scan, clear_scanner.
//   - Java client (java-client 2.x): v1 request headers with request_meta
//     (including the backup-request flag); the same operations plus
//     batch_get and check_and_mutate.
//   - Python and Node clients also send v0 headers; they are not verified.
//
// # Not covered
//
//   - RPC_NEGOTIATION (SASL/Kerberos): the Java client sends it only when
//     authentication is enabled; such clients are answered
//     CodeHandlerNotFound.
//   - Admin and remote-command RPCs (RPC_CM_CREATE_APP, RPC_CM_LIST_APPS,
//     RPC_CLI_CLI_CALL, duplication, bulk load, ...): they decode as
//     unknown RPCs.
//   - The thrift compact and JSON protocols, and the rDSN-native
//     (non-thrift) header: the official clients use neither.
//   - Header and body checksums: clients send zeros and the C++ server does
//     not check them either.
//
// # Compatibility rules the codec enforces
//
//   - The rpc-level error name must be one the clients can parse
//     (ErrorCode.Known); the Go client drops the whole connection on any
//     other name, failing every call pipelined on it.
//   - clear_scanner is never answered: the Go client has no result type for
//     its ack name and would drop the connection.
//   - Only an ERR_OK response carries a body, and it must be the RPC's
//     response type.
//   - The rDSN special types (blob, error_code, gpid, rpc_address,
//     host_port) are written under STRUCT field headers, as the clients'
//     readers require, with their custom payloads.
//   - Optional host_port fields are written only when set; servers should
//     leave them unset, since clients of 2.5.0 and older cannot skip them.
//   - Partition routing uses Pegasus' CRC-64 (polynomial
//     0x9a6c9329ac4bc9b5), which is neither crc64.ECMA nor crc64.ISO.
//
// # Decoding guarantees
//
// Decoders never panic on any input. Every length and element count is
// checked against the bytes that remain before anything is allocated, and
// the memory reserved for decoded lists is capped at 16 times the input
// size, so a lying length or a body of empty structs costs an error, not a
// large allocation. Stream readers grow their buffers only as bytes
// arrive, so announcing a large body costs nothing until it is sent. Unknown
// fields are skipped (nesting bounded to 64 levels), missing fields keep
// their zero value, optional fields record their presence (Optional).
// Decoded byte slices alias the input buffer.
package pegasusrpc
