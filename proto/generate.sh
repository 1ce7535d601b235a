#!/usr/bin/env bash
# Regenerates proto/gen/ from proto/driftless/**/*.proto with protoc and ts-proto.
#
# The output is committed and `make verify` regenerates it and fails on any difference, so this
# script must be deterministic: fixed options, files in sorted order, and the old output
# replaced as a whole (a removed .proto leaves no stale .ts behind).
set -euo pipefail

proto_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(cd "$proto_dir/.." && pwd)"
plugin="$repo_dir/node_modules/.bin/protoc-gen-ts_proto"
out_dir="$proto_dir/gen"

if ! command -v protoc >/dev/null 2>&1; then
  echo "generate.sh: protoc not found on PATH; install the Debian package protobuf-compiler" \
    "(apt-get install protobuf-compiler)" >&2
  exit 1
fi
if [[ ! -x "$plugin" ]]; then
  echo "generate.sh: $plugin not found; run 'make deps' (npm ci) from the repository root" >&2
  exit 1
fi

# Why each option:
#   outputServices=grpc-js   service definition + client class for @grpc/grpc-js
#   esModuleInterop=true     default imports, as our ESM tsconfig expects
#   enumsAsLiterals=true     enums as `as const` objects: erasable, so Node runs the file as is
#   oneof=unions-value       oneofs as { $case, value } unions, which narrow in a switch
#   forceLong=bigint         uint64/int64 as bigint: seq numbers and ms times stay exact
#   useOptionals=messages    message-typed fields are optional, scalars always present
#   importSuffix=.ts         relative imports end in .ts so Node's type stripping resolves them
options="outputServices=grpc-js,esModuleInterop=true,enumsAsLiterals=true,oneof=unions-value"
options+=",forceLong=bigint,useOptionals=messages,importSuffix=.ts"

mapfile -t protos < <(cd "$proto_dir" && find driftless -name '*.proto' | LC_ALL=C sort)
if [[ ${#protos[@]} -eq 0 ]]; then
  echo "generate.sh: no .proto files under $proto_dir/driftless" >&2
  exit 1
fi

# Generate next to the output and swap it in only on success, so a failed run keeps the old code.
tmp_dir="$(mktemp -d "$proto_dir/.gen.XXXXXX")"
trap 'rm -rf "$tmp_dir"' EXIT

(
  cd "$proto_dir"
  protoc \
    --plugin="protoc-gen-ts_proto=$plugin" \
    --ts_proto_out="$tmp_dir" \
    --ts_proto_opt="$options" \
    --proto_path=. \
    "${protos[@]}"
)

rm -rf "$out_dir"
mv "$tmp_dir" "$out_dir"
chmod 755 "$out_dir"
trap - EXIT
echo "generate.sh: wrote $(find "$out_dir" -name '*.ts' | wc -l) file(s) to ${out_dir#"$repo_dir"/}"
