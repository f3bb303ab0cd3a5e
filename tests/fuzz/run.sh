#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (ASan + UBSan) and runs each for a bounded number of
# inputs from a seed corpus of real signed images, ELF files and metadata records. A crash, a
# sanitizer report or a leak fails the test. Longer runs: FUZZ_RUNS=1000000 ctest -R fuzz.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
FOTA=${1:?fota tool}; FW=${2:?firmware build dir}; OUT=${3:?output dir}
RUNS=${FUZZ_RUNS:-100000}
mkdir -p "$OUT"
# The core's sources and include folders, from CMake's fota_core target (tests/CMakeLists.txt).
: "${FUZZ_CORE_SRC:?run through ctest, which passes the core sources}" "${FUZZ_CORE_INC:?}"
# mbedTLS 3.6 with its p256-m driver (the signature check) as the host build compiled it, and
# the configuration it was compiled with.
: "${FUZZ_MBEDCRYPTO_LIB:?}" "${FUZZ_MBEDTLS_INC:?}" "${FUZZ_MBEDTLS_CONFIG_INC:?}"
INC="-I$TOP/hostlib/include -I$FUZZ_MBEDTLS_CONFIG_INC -DMBEDTLS_USER_CONFIG_FILE=\"mbedtls_user_config_host.h\""
for d in $FUZZ_CORE_INC; do INC="$INC -I$d"; done
CORE=$FUZZ_CORE_SRC
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Wall -Werror"

build() { # name sources...
  local name=$1; shift
  if [ ! -x "$OUT/$name" ] || [ -n "$(find "$TOP" -path "$TOP/build" -prune -o -newer "$OUT/$name" -name '*.[ch]' -print | head -1)" ]; then
    clang $CFLAGS $INC -isystem "$FUZZ_MBEDTLS_INC" "$@" -o "$OUT/$name" $FUZZ_MBEDCRYPTO_LIB -lexpat
  fi
}
build fuzz_image "$TOP/tests/fuzz/fuzz_image.c" $CORE
build fuzz_meta "$TOP/tests/fuzz/fuzz_meta.c" $CORE
build fuzz_link "$TOP/tests/fuzz/fuzz_link.c" $CORE
build fuzz_delta "$TOP/tests/fuzz/fuzz_delta.c" $CORE
INC="$INC -I$TOP/server/include"
build fuzz_srv "$TOP/tests/fuzz/fuzz_srv.c" "$TOP/server/srv_util.c" "$TOP/server/routes.c" "$TOP/server/front_parse.c"
build fuzz_elf "$TOP/tests/fuzz/fuzz_elf.c" "$TOP/hostlib/elf.c" "$TOP/hostlib/util.c" $CORE

# Seeds: the real thing, so the fuzzer starts deep inside the formats.
seeds=$OUT/seeds; rm -rf "$seeds"; mkdir -p "$seeds"/{image,elf,meta,link,srv,delta}
printf '<ListBucketResult><Contents><Key>r/slot_a.bin</Key><ETag>&quot;a&quot;</ETag></Contents></ListBucketResult>' >"$seeds/srv/list"
printf 'bytes=100-199' >"$seeds/srv/range"
printf 'GET /firmware/slot_a.bin HTTP/1.1\r\nHost: s\r\nX-Device-Id: d1\r\nRange: bytes=0-9\r\nConnection: close' >"$seeds/srv/head"
"$FOTA" sign -k "$FW/keys/dev-key.pem" -b a -v 1.0.0 -o "$seeds/a.img" "$FW/app-probe-a.elf" >/dev/null
{ printf '\x00'; cat "$seeds/a.img"; } >"$seeds/image/a"
{ printf '\x05'; head -c 700 "$seeds/a.img"; } >"$seeds/image/a-cut"
cp "$FW/app-probe-a.elf" "$FW/verifier-probe.elf" "$seeds/elf/"
# Patches: the application for bank A to itself for bank B (small: every input reaches the body),
# and the probe to the application (larger than -max_len: cut, as a truncated download is).
"$FOTA" sign -k "$FW/keys/dev-key.pem" -b a -v 1.0.0 -o "$seeds/app-a.img" "$FW/app-a.elf" >/dev/null
"$FOTA" sign -k "$FW/keys/dev-key.pem" -b b -v 1.0.1 -o "$seeds/app-b.img" "$FW/app-b.elf" >/dev/null
"$FOTA" delta -q "$seeds/app-a.img" "$seeds/app-b.img" -o "$seeds/ab.patch"
"$FOTA" delta -q "$seeds/a.img" "$seeds/app-b.img" -o "$seeds/pb.patch"
{ printf '\x07'; cat "$seeds/ab.patch"; } >"$seeds/delta/ab"
{ printf '\x40'; cat "$seeds/pb.patch"; } >"$seeds/delta/pb"
"$FOTA" compose --bootloader "$FW/verifier-probe.elf" --trial b -o "$seeds/flash.bin" >/dev/null
dd if="$seeds/flash.bin" of="$seeds/meta/record" bs=1 skip=$((0x8000)) count=64 status=none

# The shapes of a STATUS and a DATA frame (their CRC fields are zero: the fuzzer mostly explores
# the header and length checks, the unit test covers CRC coverage byte by byte).
printf '\x5a\x81\x01\x00\x10\x00\x01\x00\x03\x00\x02\x02\x01\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' >"$seeds/link/status"
printf '\x5a\x04\x02\x00\x08\x00\x00\x00\x00\x00\x01\x02\x03\x04\x00\x00\x00\x00' >"$seeds/link/data"

fail=0
for h in image:fuzz_image elf:fuzz_elf meta:fuzz_meta link:fuzz_link srv:fuzz_srv delta:fuzz_delta; do
  corpus=${h%%:*}; bin=${h##*:}
  work=$OUT/corpus-$corpus; mkdir -p "$work"
  if "$OUT/$bin" -runs="$RUNS" -seed=1 -max_len=4096 -timeout=10 "$work" "$seeds/$corpus" >"$OUT/$bin.log" 2>&1; then
    echo "ok   $bin: $(grep -oE 'Done [0-9]+ runs' "$OUT/$bin.log")"
  else
    echo "FAIL $bin"; tail -40 "$OUT/$bin.log"; fail=1
  fi
done
exit $fail
