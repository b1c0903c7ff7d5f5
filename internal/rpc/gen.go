// Package rpc holds the protobuf contract between the roles (pegasus.proto),
// its generated Go code (package pb) and the protocol-version handshake that
// rides in gRPC metadata.
//
// The generated code is committed. To regenerate it after editing the proto:
//
//	apt-get install -y protobuf-compiler
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
//	go generate ./internal/rpc
package rpc

//go:generate protoc --proto_path=. --go_out=pb --go_opt=paths=source_relative --go-grpc_out=pb --go-grpc_opt=paths=source_relative pegasus.proto
