#!/usr/bin/env bash
# The `fota` tool as a user meets it: every subcommand, its messages and its documented exit codes
# (0 ok, 1 rejected, 2 usage, 3 bad input, 4 output), and no output file left behind on failure.
set -uo pipefail
. "$(dirname "$0")/../lib/flip.sh"
FOTA=${1:?fota tool}; FW=${2:?firmware build dir}
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
pass=0; fail=0

# expect CODE REGEX CMD...: runs CMD, checks its exit code and that stdout+stderr match REGEX.
expect() {
  local want=$1 re=$2; shift 2
  local out code=0
  out=$("$@" 2>&1) || code=$?
  if [ "$code" -eq "$want" ] && grep -qE -- "$re" <<<"$out"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: $* -> exit $code (want $want), output:"; echo "$out" | sed 's/^/    /'; echo "    (wanted /$re/)"
  fi
}
absent() { if [ -e "$1" ]; then fail=$((fail + 1)); echo "FAIL: $1 was written"; else pass=$((pass + 1)); fi; }

# General
expect 0 "Usage: fota COMMAND" "$FOTA" --help
expect 2 "Usage: fota COMMAND" "$FOTA"
expect 2 "unknown command 'frobnicate'" "$FOTA" frobnicate
for c in keygen pubkey sign verify inspect compose provision delta apply; do
  expect 0 "^Usage: fota $c" "$FOTA" $c --help
  expect 2 "$c: unknown option '--bogus'" "$FOTA" $c --bogus
done

# keygen
expect 0 "wrote private key" "$FOTA" keygen -o "$w/k.pem"
[ "$(stat -c %a "$w/k.pem")" = 600 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: private key mode"; }
expect 0 "BEGIN PUBLIC KEY" cat "$w/k.pub.pem"
expect 4 "exists; refusing to overwrite" "$FOTA" keygen -o "$w/k.pem"
expect 2 "-o KEY.pem is required" "$FOTA" keygen
expect 0 "wrote" "$FOTA" keygen -o "$w/k2.pem" --pub "$w/k2-public.pem"

# pubkey
expect 0 "BEGIN PUBLIC KEY" "$FOTA" pubkey "$w/k.pem"
expect 0 "^point:  04[0-9a-f]{128}" "$FOTA" pubkey --format hex "$w/k.pub.pem"
expect 0 "fota_trusted_pubkey\[CRYPTO_P256_PUBKEY_SIZE\]" "$FOTA" pubkey --format c "$w/k.pem"
expect 2 "unknown format 'der'" "$FOTA" pubkey --format der "$w/k.pem"
expect 3 "cannot load key '$w/nope.pem'" "$FOTA" pubkey "$w/nope.pem"
echo "not a key" >"$w/junk.pem"
expect 3 "cannot load key '$w/junk.pem': " "$FOTA" pubkey "$w/junk.pem"
[ "$("$FOTA" pubkey "$w/k.pem")" = "$(cat "$w/k.pub.pem")" ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: pubkey of private != public file"; }

# sign
A_ELF=$FW/app-probe-a.elf; B_ELF=$FW/app-probe-b.elf
expect 0 "bank A, version 1.2.3\+7, security counter 4" "$FOTA" sign -k "$w/k.pem" -b a -v 1.2.3+7 -s 4 -o "$w/a.img" "$A_ELF"
expect 0 "bank B" "$FOTA" sign -k "$w/k.pem" -b B -v 1.2.4 -o "$w/b.img" "$B_ELF"
expect 0 "bank A" "$FOTA" sign -k "$w/k.pem" -b a -v 1.2.3+7 -s 4 -o "$w/a-bin.img" "$FW/app-probe-a.bin"
cmp -s "$w/a.img" "$w/a-bin.img" && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: ELF and binary inputs differ"; }
expect 3 "is linked for bank A \(0x08020200\), not bank B" "$FOTA" sign -k "$w/k.pem" -b b -v 1.0.0 -o "$w/x.img" "$A_ELF"
absent "$w/x.img"
expect 3 "is linked for bank B \(reset vector 0x0806.*\), not bank A" "$FOTA" sign -k "$w/k.pem" -b a -v 1.0.0 -o "$w/x.img" "$FW/app-probe-b.bin"
expect 3 "is linked at 0x08000000, not at bank A's application origin" "$FOTA" sign -k "$w/k.pem" -b a -v 1.0.0 -o "$w/x.img" "$FW/verifier-probe.elf"
head -c 4096 /dev/urandom >"$w/random.bin"
expect 3 "reset vector 0x[0-9a-f]+ is in no bank|is linked for bank" "$FOTA" sign -k "$w/k.pem" -b a -v 1.0.0 -o "$w/x.img" "$w/random.bin"
expect 2 "version '1.2' is not X.Y.Z" "$FOTA" sign -k "$w/k.pem" -b a -v 1.2 -o "$w/x.img" "$A_ELF"
expect 2 "bank 'c' is not 'a' or 'b'" "$FOTA" sign -k "$w/k.pem" -b c -v 1.0.0 -o "$w/x.img" "$A_ELF"
expect 2 "--key is required" "$FOTA" sign -b a -v 1.0.0 -o "$w/x.img" "$A_ELF"
expect 2 "security counter '-1' is not a number" "$FOTA" sign -k "$w/k.pem" -b a -v 1.0.0 -s -1 -o "$w/x.img" "$A_ELF"
expect 2 "exactly one INPUT" "$FOTA" sign -k "$w/k.pem" -b a -v 1.0.0 -o "$w/x.img"
expect 3 "is a public key; signing needs the private key" "$FOTA" sign -k "$w/k.pub.pem" -b a -v 1.0.0 -o "$w/x.img" "$A_ELF"
expect 3 "cannot open '$w/missing.elf'" "$FOTA" sign -k "$w/k.pem" -b a -v 1.0.0 -o "$w/x.img" "$w/missing.elf"
head -c 100 "$A_ELF" >"$w/cut.elf"
expect 3 "program header table|section header table" "$FOTA" sign -k "$w/k.pem" -b a -v 1.0.0 -o "$w/x.img" "$w/cut.elf"
absent "$w/x.img"

# verify
expect 0 "OK: version 1.2.3\+7, bank A, security counter 4" "$FOTA" verify -p "$w/k.pub.pem" "$w/a.img"
expect 0 "OK" "$FOTA" verify -p "$w/k.pem" -b a -m 4 "$w/a.img"
expect 1 "REJECTED: image is signed with another key" "$FOTA" verify -p "$w/k2-public.pem" "$w/a.img"
expect 1 "REJECTED: image is linked for the other bank" "$FOTA" verify -p "$w/k.pem" -b b "$w/a.img"
expect 1 "REJECTED: security counter is below" "$FOTA" verify -p "$w/k.pem" -m 5 "$w/a.img"
head -c 1000 "$w/a.img" >"$w/trunc.img"
expect 1 "REJECTED: image is truncated" "$FOTA" verify -p "$w/k.pem" "$w/trunc.img"
cp "$w/a.img" "$w/corrupt.img"; printf '\x00' | dd of="$w/corrupt.img" bs=1 seek=700 conv=notrunc status=none
expect 1 "REJECTED: SHA-256 mismatch" "$FOTA" verify -p "$w/k.pem" "$w/corrupt.img"
expect 1 "REJECTED: not a FOTA image" "$FOTA" verify -p "$w/k.pem" "$w/random.bin"
expect 2 "--pubkey is required" "$FOTA" verify "$w/a.img"

# inspect
expect 0 "bank:             A" "$FOTA" inspect "$w/a.img"
expect 0 "version:          1.2.3\+7" "$FOTA" inspect "$w/a.img"
expect 0 "load address:     0x08020200" "$FOTA" inspect "$w/a.img"
expect 0 "verdict:          intact; signature not checked" "$FOTA" inspect "$w/a.img"
expect 0 "verdict:          valid" "$FOTA" inspect -p "$w/k.pem" "$w/a.img"
expect 1 "signature: +[0-9a-f]{128} \(INVALID\)" "$FOTA" inspect -p "$w/k2.pem" "$w/a.img"
expect 0 '"bank":[[:space:]]*"A"' "$FOTA" inspect --json "$w/a.img"
expect 0 '"security_counter":[[:space:]]*4' "$FOTA" inspect --json "$w/a.img"
expect 1 '"valid":[[:space:]]*false' "$FOTA" inspect --json "$w/corrupt.img"
expect 1 "not a valid image: not a FOTA image" "$FOTA" inspect "$w/random.bin"

# compose
expect 0 "composed" "$FOTA" compose --bootloader "$FW/verifier-probe.elf" --bank-a "$w/a.img" --bank-b "$w/b.img" -p "$w/k.pem" -o "$w/flash.bin"
[ "$(stat -c %s "$w/flash.bin")" = 1048576 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: flash image size"; }
cmp -s -n "$(stat -c %s "$w/a.img")" "$w/a.img" <(tail -c +$((0x20000 + 1)) "$w/flash.bin") && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: bank A contents"; }
cmp -s -n "$(stat -c %s "$w/b.img")" "$w/b.img" <(tail -c +$((0x60000 + 1)) "$w/flash.bin") && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: bank B contents"; }
cmp -s -n "$(stat -c %s "$FW/verifier-probe.bin")" "$FW/verifier-probe.bin" "$w/flash.bin" && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: bootloader contents"; }
[ "$(head -c $((0x8000 + 4)) "$w/flash.bin" | tail -c 4)" = "META" ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: metadata record"; }
expect 0 "metadata \(erased\)" "$FOTA" compose --bootloader "$FW/verifier-probe.bin" --bank-a "$w/a.img" --blank-meta -o "$w/blank.bin"
[ "$(head -c $((0x8000 + 4)) "$w/blank.bin" | tail -c 4 | od -An -tx1 | tr -d ' ')" = ffffffff ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: blank metadata"; }
expect 3 "bank B image '.*a.img': image is linked for the other bank" "$FOTA" compose --bootloader "$FW/verifier-probe.elf" --bank-b "$w/a.img" -o "$w/y.bin"
expect 3 "bank A image .*signed with another key" "$FOTA" compose --bootloader "$FW/verifier-probe.elf" --bank-a "$w/a.img" -p "$w/k2.pem" -o "$w/y.bin"
expect 3 "bank A image .*truncated" "$FOTA" compose --bootloader "$FW/verifier-probe.elf" --bank-a "$w/trunc.img" -o "$w/y.bin"
head -c 40000 /dev/zero >"$w/big-boot.bin"
expect 3 "more than its 32704-byte region" "$FOTA" compose --bootloader "$w/big-boot.bin" -o "$w/y.bin"
expect 3 "bootloader .* is linked at 0x08020200, not 0x08000000" "$FOTA" compose --bootloader "$A_ELF" -o "$w/y.bin"
expect 2 "trial bank must differ" "$FOTA" compose --bootloader "$FW/verifier-probe.elf" --trial a --boot-bank a -o "$w/y.bin"
expect 2 "--bootloader is required" "$FOTA" compose -o "$w/y.bin"
absent "$w/y.bin"

# provision (issue 10): the OpenOCD command it runs, RDP level 1 only on request and after the
# verified write, level 2 refused, bad images refused before OpenOCD runs. OpenOCD itself needs a
# probe and a board: a stand-in program records the arguments it was given and answers an exit code.
printf '#!/bin/sh\necho "$@" >"%s/ocd-args"\nexit ${FAKE_OCD_RC:-0}\n' "$w" >"$w/ocd"; chmod +x "$w/ocd"
expect 0 "would run: openocd -f interface/stlink.cfg -f target/stm32f4x.cfg -c 'program \{.*flash.bin\} verify 0x08000000' -c 'reset run; shutdown'" \
  "$FOTA" provision --flash "$w/flash.bin" --dry-run
expect 0 "bank A: v1.2.3, security counter 4, signature verified" "$FOTA" provision --flash "$w/flash.bin" -p "$w/k.pem" -n
expect 0 "provisioned: flash written and verified, read protection level 1" \
  "$FOTA" provision --flash "$w/flash.bin" --rdp 1 --openocd "$w/ocd"
expect 0 "verify 0x08000000 -c stm32f2x lock 0 -c reset run; shutdown" cat "$w/ocd-args"
rm -f "$w/ocd-args"
expect 0 "provisioned: flash written and verified$" "$FOTA" provision --flash "$w/flash.bin" --openocd "$w/ocd"
expect 1 "^0$" grep -c lock "$w/ocd-args"
FAKE_OCD_RC=1 expect 4 "OpenOCD failed \(exit 1\): the board is not provisioned" \
  "$FOTA" provision --flash "$w/flash.bin" --rdp 1 --openocd "$w/ocd"
expect 4 "cannot run '$w/none'" "$FOTA" provision --flash "$w/flash.bin" --openocd "$w/none"
expect 2 "RDP level 2 is permanent" "$FOTA" provision --flash "$w/flash.bin" --rdp 2
expect 2 "'3' is not 0 or 1" "$FOTA" provision --flash "$w/flash.bin" --rdp 3
expect 3 "bank A: image is signed with another key" "$FOTA" provision --flash "$w/flash.bin" -p "$w/k2.pem" -n
expect 3 "not a whole flash image" "$FOTA" provision --flash "$w/a.img" -n
"$FOTA" compose --bootloader "$FW/verifier-probe.elf" -o "$w/nobank.bin" >/dev/null
expect 3 "both banks are empty" "$FOTA" provision --flash "$w/nobank.bin" -n
head -c 1048576 /dev/zero >"$w/zero.bin"
expect 3 "no bootloader at 0x08000000" "$FOTA" provision --flash "$w/zero.bin" -n
expect 2 "--flash is required" "$FOTA" provision --rdp 1

# delta, apply: a patch from the application for bank A to itself for bank B, applied back with the
# device's decoder; wrong base, cut and corrupted patches refused with no output file.
"$FOTA" sign -k "$w/k.pem" -b a -v 1.0.0 -o "$w/da.img" "$FW/app-a.elf" >/dev/null
"$FOTA" sign -k "$w/k.pem" -b b -v 1.0.1 -o "$w/db.img" "$FW/app-b.elf" >/dev/null
expect 0 "bytes, [0-9.]+ % of the [0-9]+-byte target" "$FOTA" delta "$w/da.img" "$w/db.img" -o "$w/d.patch"
expect 0 "decoder state [0-9]+ bytes" "$FOTA" apply "$w/da.img" "$w/d.patch" -o "$w/dr.img"
expect 0 "" cmp "$w/dr.img" "$w/db.img"
expect 0 "" "$FOTA" apply --chunk 1 "$w/da.img" "$w/d.patch" -o "$w/dr1.img"
expect 0 "" cmp "$w/dr1.img" "$w/db.img"
expect 1 "is for another base image" "$FOTA" apply "$w/db.img" "$w/d.patch" -o "$w/bad1.img"
absent "$w/bad1.img"
head -c $(($(stat -c %s "$w/d.patch") - 20)) "$w/d.patch" >"$w/cut.patch"
expect 1 "patch ended before the image did" "$FOTA" apply "$w/da.img" "$w/cut.patch" -o "$w/bad2.img"
absent "$w/bad2.img"
cp "$w/d.patch" "$w/flip.patch"; flip_byte "$w/flip.patch" 200
expect 1 "patch body is corrupt|does not have the SHA-256" "$FOTA" apply "$w/da.img" "$w/flip.patch" -o "$w/bad3.img"
absent "$w/bad3.img"
cp "$w/d.patch" "$w/flip.patch"; flip_byte "$w/flip.patch" 120
expect 1 "announces another image header" "$FOTA" apply "$w/da.img" "$w/flip.patch" -o "$w/bad6.img"
absent "$w/bad6.img"
expect 1 "not a patch" "$FOTA" apply "$w/da.img" "$w/da.img" -o "$w/bad4.img"
expect 3 "is not a valid image: " "$FOTA" delta "$w/d.patch" "$w/db.img" -o "$w/bad5"
absent "$w/bad5"
# --raw: any flash content at an address (measuring other firmware)
expect 0 "bytes, [0-9.]+ % of the" "$FOTA" delta --raw 0x08020000 "$FW/app-a.bin" "$FW/app-a-v1.bin" -o "$w/raw.patch"
expect 0 "decoder state" "$FOTA" apply --raw 0x08020000 "$FW/app-a.bin" "$w/raw.patch" -o "$w/raw.bin"
expect 0 "" cmp "$w/raw.bin" "$FW/app-a-v1.bin"
expect 1 "is for another base image" "$FOTA" apply --raw 0x08020000 "$FW/app-b.bin" "$w/raw.patch" -o "$w/bad7"
absent "$w/bad7"
expect 2 "--raw 'zero' is not a flash address" "$FOTA" delta --raw zero "$FW/app-a.bin" "$FW/app-a-v1.bin" -o "$w/x"
expect 2 "chunk '0' is not a number" "$FOTA" apply --chunk 0 "$w/da.img" "$w/d.patch" -o "$w/x"
expect 2 "are required" "$FOTA" delta "$w/da.img"

# Encrypted images (docs/encryption.md): a device key; an image encrypted for it verifies only once
# decrypted with it, not with another key; a flipped ciphertext byte is caught by the signature over
# the plaintext; the payload differs from the plaintext's almost everywhere, and from a second
# encryption of the same input (a fresh key each time).
expect 0 "wrote device encryption key" "$FOTA" keygen --device-enc -o "$w/dev.pem"
"$FOTA" keygen -o "$w/dev2.pem" >/dev/null
expect 0 "payload encrypted for" "$FOTA" sign -k "$w/k.pem" -b a -v 1.0.0 --encrypt-for "$w/dev.pub.pem" -o "$w/enc.img" "$FW/app-a.elf"
"$FOTA" sign -k "$w/k.pem" -b a -v 1.0.0 --encrypt-for "$w/dev.pub.pem" -o "$w/enc2.img" "$FW/app-a.elf" >/dev/null
"$FOTA" sign -k "$w/k.pem" -b a -v 1.0.0 -o "$w/plain.img" "$FW/app-a.elf" >/dev/null
expect 1 "encrypted for transport, and not decrypted here \(its signature over the hash it states is good" "$FOTA" verify -p "$w/k.pem" "$w/enc.img"
expect 1 "not decrypted here \(image is signed with another key" "$FOTA" verify -p "$w/k2.pem" "$w/enc.img"
expect 1 "verdict: +encrypted for a device: structure, key record and signature over the recorded hash valid" "$FOTA" inspect -p "$w/k.pem" "$w/enc.img"
expect 1 "initial SP: +\(encrypted\)" "$FOTA" inspect "$w/enc.img"
expect 1 "\"payload\":.*\"encrypted for a device\"" "$FOTA" inspect --json "$w/enc.img"
expect 0 "OK: version 1.0.0, bank A" "$FOTA" verify -p "$w/k.pem" --device-key "$w/dev.pem" "$w/enc.img"
expect 1 "not encrypted for this device key" "$FOTA" verify -p "$w/k.pem" --device-key "$w/dev2.pem" "$w/enc.img"
expect 1 "the image is not encrypted" "$FOTA" verify -p "$w/k.pem" --device-key "$w/dev.pem" "$w/plain.img"
cp "$w/enc.img" "$w/flip.img"; flip_byte "$w/flip.img" 2000
expect 1 "SHA-256 mismatch" "$FOTA" verify -p "$w/k.pem" --device-key "$w/dev.pem" "$w/flip.img"
payload=$(( $(stat -c %s "$w/plain.img") - 512 - 144 ))
same() { cmp -l <(dd if="$1" bs=1 skip=512 count="$payload" status=none) <(dd if="$2" bs=1 skip=512 count="$payload" status=none) | wc -l; }
[ "$(same "$w/plain.img" "$w/enc.img")" -gt $((payload * 99 / 100)) ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: the encrypted payload is not different from the plaintext"; }
[ "$(same "$w/enc.img" "$w/enc2.img")" -gt $((payload * 99 / 100)) ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: two encryptions of one input are alike"; }
expect 3 "" "$FOTA" sign -k "$w/k.pem" -b a -v 1.0.0 --encrypt-for "$w/missing.pem" -o "$w/bad8" "$FW/app-a.elf"
absent "$w/bad8"
# compose --device-key: the key record at 0x08007FC0, the end of the bootloader's sectors (magic "FDEK"); an encrypted bank image is
# decrypted with it (flash holds plaintext, as after the agent); without the key, or with another,
# refused and nothing written.
expect 0 "device key at 0x08007FC0" "$FOTA" compose --bootloader "$FW/verifier-probe.elf" --bank-a "$w/enc.img" -p "$w/k.pem" --device-key "$w/dev.pem" -o "$w/enc-flash.bin"
expect 0 "^FDEK" head -c 4 <(dd if="$w/enc-flash.bin" bs=64 skip=$((0x7FC0 / 64)) count=1 status=none)
dd if="$w/enc-flash.bin" bs=4096 skip=32 count=64 status=none >"$w/bank-a.bin"
[ "$(same "$w/plain.img" "$w/bank-a.bin")" -eq 0 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: compose --device-key did not put the plaintext in bank A"; }
expect 3 "is encrypted: give the device's key" "$FOTA" compose --bootloader "$FW/verifier-probe.elf" --bank-a "$w/enc.img" -o "$w/bad9"
expect 3 "cannot be decrypted with that device key" "$FOTA" compose --bootloader "$FW/verifier-probe.elf" --bank-a "$w/enc.img" --device-key "$w/dev2.pem" -o "$w/bad9"
absent "$w/bad9"
# delta and apply of an encrypted release: the patch is made from the plaintexts (--device-key) and
# encrypted for the device; apply needs the key; another key is refused; no output without it.
"$FOTA" sign -k "$w/k.pem" -b b -v 1.0.1 --encrypt-for "$w/dev.pub.pem" -o "$w/eb.img" "$FW/app-b.elf" >/dev/null
expect 3 "encrypted for transport.*--device-key" "$FOTA" delta "$w/plain.img" "$w/eb.img" -o "$w/bad10"
absent "$w/bad10"
expect 0 "bytes encrypted for the device" "$FOTA" delta --device-key "$w/dev.pem" "$w/plain.img" "$w/eb.img" -o "$w/e.patch"
expect 3 "encrypted for a device: give its key" "$FOTA" apply "$w/plain.img" "$w/e.patch" -o "$w/bad11"
expect 1 "not encrypted for this device key" "$FOTA" apply --device-key "$w/dev2.pem" "$w/plain.img" "$w/e.patch" -o "$w/bad11"
absent "$w/bad11"
expect 0 "decoder state" "$FOTA" apply --device-key "$w/dev.pem" "$w/plain.img" "$w/e.patch" -o "$w/er.img"
expect 0 "OK: version 1.0.1, bank B, .*decrypted: as a device holds it" "$FOTA" verify -p "$w/k.pem" "$w/er.img"
expect 0 "payload: +decrypted \(as a device holds it\)" "$FOTA" inspect -p "$w/k.pem" "$w/er.img"
# what the device's flash holds after the whole image: compose decrypts it as the agent does
"$FOTA" compose --bootloader "$FW/verifier-probe.elf" --bank-b "$w/eb.img" --device-key "$w/dev.pem" -o "$w/eb-flash.bin" >/dev/null
expect 0 "" cmp "$w/er.img" <(dd if="$w/eb-flash.bin" bs=4096 skip=96 status=none | head -c "$(stat -c %s "$w/eb.img")")

# Every host binary says which release it is.
for b in fota fota-server fota-bridge fota-sim fota-emu fota-link; do
  expect 0 "^$b [0-9]+\.[0-9]+\.[0-9]+ \(.+\)$" "$(dirname "$FOTA")/$b" --version
done

# fota-server refuses a bad command line before it starts, saying what was wrong.
SRV="$(dirname "$FOTA")/fota-server"
expect 2 "--listen 'nope' is not ADDR:PORT" "$SRV" --root "$w" --listen nope
expect 2 "--threads '0' is not a number from 1 to 256" "$SRV" --root "$w" --threads 0
expect 2 "--s3-interval '0' is not a number of seconds above 0" "$SRV" --root "$w" --s3-bucket b --s3-interval 0
expect 2 "--s3-prefix is longer than 256 bytes" env AWS_ACCESS_KEY_ID=a AWS_SECRET_ACCESS_KEY=b \
  "$SRV" --root "$w" --pubkey "$w/k.pub.pem" --s3-bucket b --s3-prefix "$(printf 'p%.0s' $(seq 300))/"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
