package stream

import (
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// frame is a ClientRequest already in wire form.
type frame []byte

// frameCodec sends frames as they are and decodes replies as protobuf. It
// carries the name of the standard codec, so the server sees ordinary
// protobuf traffic and needs nothing special.
type frameCodec struct{}

var protoCodec = encoding.GetCodecV2(grpcproto.Name)

func (frameCodec) Marshal(v any) (mem.BufferSlice, error) {
	if f, ok := v.(*frame); ok {
		return mem.BufferSlice{mem.SliceBuffer(*f)}, nil
	}
	return protoCodec.Marshal(v)
}

func (frameCodec) Unmarshal(data mem.BufferSlice, v any) error { return protoCodec.Unmarshal(data, v) }

func (frameCodec) Name() string { return grpcproto.Name }
