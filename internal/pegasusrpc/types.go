package pegasusrpc

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
)

// Value is a thrift value that can be the single field of an RPC's args
// struct (field id 1) or result struct (field id 0): every request and
// response struct of this package, plus Blob and ScanContextID for the RPCs
// whose argument is a bare key or context id.
//
// The interface is sealed: the wire layout of each implementation is fixed
// by the Pegasus IDL, so only this package provides them.
type Value interface {
	// wireType is the type id written in the enclosing field header.
	wireType() thriftType
	// appendValue appends the encoded value (without field header).
	appendValue(b []byte) []byte
	// readValue decodes the value in place; errors are left in d.err.
	readValue(d *decoder)
}

// Optional holds a thrift `optional` field. Presence matters on the wire:
// the server must not emit an unset optional field, and for some fields
// absence means something other than the zero value (an unset
// validate_partition_hash means true).
type Optional[T any] struct {
	Value T
	Set   bool
}

// Some returns a present optional value.
func Some[T any](v T) Optional[T] { return Optional[T]{Value: v, Set: true} }

// Or returns the value if present and def otherwise.
func (o Optional[T]) Or(def T) T {
	if o.Set {
		return o.Value
	}
	return def
}

// Blob is a dsn.blob argument (the key of get, remove and ttl, the hash key
// of sortkey_count). On the wire a blob is a thrift binary behind a STRUCT
// field header. Blob fields inside structs are plain []byte.
type Blob []byte

func (*Blob) wireType() thriftType          { return typeSpecial }
func (v *Blob) appendValue(b []byte) []byte { return appendBinary(b, *v) }
func (v *Blob) readValue(d *decoder)        { *v = d.binary() }

// ScanContextID identifies a server-side scan context (scan_request,
// scan_response, and the i64 argument of clear_scanner).
type ScanContextID int64

// Reserved context ids in scan_response.context_id; valid ids are >= 0.
const (
	// ScanContextCompleted means the scan is finished; no context was kept.
	ScanContextCompleted ScanContextID = -1
	// ScanContextNotExist means the context expired or was removed.
	ScanContextNotExist ScanContextID = -2
)

// clear_scanner sends its context id as a plain I64 field, the only args
// value that is not a STRUCT.
func (*ScanContextID) wireType() thriftType          { return typeI64 }
func (v *ScanContextID) appendValue(b []byte) []byte { return appendI64(b, int64(*v)) }
func (v *ScanContextID) readValue(d *decoder)        { *v = ScanContextID(d.i64()) }

// Gpid is rDSN's global partition id. On the wire it is one i64 with the
// app id in the low 32 bits and the partition index in the high 32 bits.
type Gpid struct {
	AppID          int32
	PartitionIndex int32
}

// Int64 returns the wire encoding of g.
func (g Gpid) Int64() int64 {
	return int64(uint32(g.AppID)) | int64(g.PartitionIndex)<<32
}

// GpidFromInt64 decodes the wire encoding of a gpid.
func GpidFromInt64(v int64) Gpid {
	return Gpid{AppID: int32(v), PartitionIndex: int32(v >> 32)}
}

// String formats g the way Pegasus tools do: "app_id.partition_index".
func (g Gpid) String() string { return fmt.Sprintf("%d.%d", g.AppID, g.PartitionIndex) }

// ThreadHash is the value the v0 request header carries in thread_hash; the
// server recomputes it for v1 headers, which do not carry it.
func (g Gpid) ThreadHash() int32 { return g.AppID*7919 + g.PartitionIndex }

// RPCAddress is rDSN's rpc_address as it travels on the wire: one i64 with
// the IPv4 address in the high 32 bits, the port in bits 16..31 and the
// address type in the low bits (1 = IPv4). Zero is the invalid address. The
// clients dial partition primaries from this value, so a server must fill it
// even when it also sends host_port fields.
type RPCAddress uint64

// rpcAddressTypeIPv4 is the HOST_TYPE_IPV4 tag in the low bits.
const rpcAddressTypeIPv4 = 1

// NewRPCAddress encodes an IPv4 address and port. It fails for IPv6
// addresses, which rpc_address cannot represent.
func NewRPCAddress(ap netip.AddrPort) (RPCAddress, error) {
	ip := ap.Addr().Unmap()
	if !ip.Is4() {
		return 0, fmt.Errorf("pegasusrpc: rpc_address needs an IPv4 address, got %s", ap)
	}
	v4 := ip.As4()
	return RPCAddress(uint64(binary.BigEndian.Uint32(v4[:]))<<32 | uint64(ap.Port())<<16 | rpcAddressTypeIPv4), nil
}

// ParseRPCAddress parses "a.b.c.d:port".
func ParseRPCAddress(s string) (RPCAddress, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return 0, fmt.Errorf("pegasusrpc: %w", err)
	}
	return NewRPCAddress(ap)
}

// IsValid reports whether a carries an IPv4 address (type tag 1).
func (a RPCAddress) IsValid() bool { return a&0xffff == rpcAddressTypeIPv4 }

// AddrPort decodes a; ok is false for the invalid (or a non-IPv4) address.
func (a RPCAddress) AddrPort() (ap netip.AddrPort, ok bool) {
	if !a.IsValid() {
		return netip.AddrPort{}, false
	}
	var ip [4]byte
	binary.BigEndian.PutUint32(ip[:], uint32(a>>32))
	return netip.AddrPortFrom(netip.AddrFrom4(ip), uint16(a>>16)), true
}

// String returns "a.b.c.d:port", or "invalid" for an address without type.
func (a RPCAddress) String() string {
	ap, ok := a.AddrPort()
	if !ok {
		return "invalid"
	}
	return ap.String()
}

func appendRPCAddress(b []byte, a RPCAddress) []byte { return appendI64(b, int64(a)) }
func readRPCAddress(d *decoder) RPCAddress           { return RPCAddress(d.i64()) }

// HostPortType is the type tag of a host_port.
type HostPortType int8

const (
	HostPortInvalid HostPortType = 0
	HostPortIPv4    HostPortType = 1
	HostPortGroup   HostPortType = 2
)

// HostPort is rDSN's host_port: a host name (or IP literal) and port. On the
// wire it is written without field headers: string host, i16 port, byte
// type, under a STRUCT field header. Clients built before the type existed
// (2.5.0 and older) skip such a field as if it were a struct and mis-parse
// the rest of the message; see PartitionConfiguration.
type HostPort struct {
	Host string
	Port uint16
	Type HostPortType
}

// NewHostPort returns an IPv4-typed host_port, the only type servers send.
func NewHostPort(host string, port uint16) HostPort {
	return HostPort{Host: host, Port: port, Type: HostPortIPv4}
}

// String returns "host:port".
func (h HostPort) String() string {
	return h.Host + ":" + strconv.Itoa(int(h.Port))
}

func appendHostPort(b []byte, h HostPort) []byte {
	b = appendString(b, h.Host)
	b = appendI16(b, int16(h.Port))
	return append(b, byte(h.Type))
}

func readHostPort(d *decoder) HostPort {
	return HostPort{Host: d.string(), Port: uint16(d.i16()), Type: HostPortType(d.byte())}
}

// Thin element codecs for lists of scalar and special types.

func readBlob(d *decoder) []byte           { return d.binary() }
func readI32(d *decoder) int32             { return d.i32() }
func appendBlob(b []byte, v []byte) []byte { return appendBinary(b, v) }
