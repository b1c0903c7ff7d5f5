// Package rpc holds the protobuf contract between the roles (pegasus.proto),
// its generated Go code (package pb) and the protocol-version handshake that
// rides in gRPC metadata.
//
// The generated code is committed. To regenerate it after editing the proto:
//
//	apt-get install -y protobuf-compiler
//	go generate ./internal/rpc
//
// The generators' versions are pinned by go.mod's tool lines
// (protoc-gen-go, protoc-gen-go-grpc); gen.sh runs them through go tool.
// CI regenerates and fails on any difference.
package rpc

//go:generate sh gen.sh
