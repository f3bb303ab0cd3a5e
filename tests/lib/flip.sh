# flip_byte FILE OFFSET: inverts the byte at OFFSET (every bit), so the file always changes. Writing
# a constant instead leaves the file as it was whenever that byte already holds it: 1 run in 256 for
# ciphertext or signatures, which differ between runs.
flip_byte() {
  local b
  b=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
  [ -n "$b" ] || { echo "flip_byte: $1 has no byte at $2" >&2; return 1; }
  printf "\\$(printf '%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
