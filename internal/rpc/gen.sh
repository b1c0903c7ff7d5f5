#!/bin/sh
# Regenerates package pb from pegasus.proto (go generate ./internal/rpc).
# The code generators are the versions pinned by the tool lines of go.mod
# (go tool builds them); protoc is Debian's protobuf-compiler. CI runs this
# and fails when the committed code differs.
set -eu
command -v protoc >/dev/null || { echo "protoc is missing: apt-get install -y protobuf-compiler" >&2; exit 1; }
gen_go=$(go tool -n protoc-gen-go)
gen_grpc=$(go tool -n protoc-gen-go-grpc)
exec protoc --proto_path=. \
	--plugin=protoc-gen-go="$gen_go" --plugin=protoc-gen-go-grpc="$gen_grpc" \
	--go_out=pb --go_opt=paths=source_relative \
	--go-grpc_out=pb --go-grpc_opt=paths=source_relative \
	pegasus.proto
