#!/usr/bin/env bash
# The main job, at this stage of the project: two signed releases of the example application and
# the real bootloader on an emulated STM32F407 (qemu-system-arm -M netduinoplus2): it boots the
# bank the metadata names, refuses a tampered image and falls back, and reverts an unconfirmed
# trial. Then the whole over-the-air path on loopback: fota-server serves a published release,
# fota-bridge fetches it and sends it over SPI to the real firmware (bootloader and application
# v1.0.0, the ARM binaries a user flashes) on fota-emu, an emulated STM32F407 at 168 MHz, which
# ends on v1.1.0, confirmed; then a second release, v1.2.0 (one line of the application changed),
# reaches it as a patch of a few hundred bytes that its agent applies (docs/delta.md); then v1.3.0,
# encrypted for the device's own key, which its agent decrypts while receiving it
# (docs/encryption.md). Everything it starts, it stops.
set -euo pipefail
HOST=${1:?host build dir}; FW=${2:?firmware build dir}
FOTA=$HOST/fota
KEY=$FW/keys/dev-key.pem
RUN="bash $(dirname "$0")/qemu-run.sh"
out=$FW/demo
mkdir -p "$out"

step() { printf '\n== %s\n' "$*"; }

step "Signing the example application: v1.0.0 for bank A, v1.1.0 for bank B (key: $KEY)"
"$FOTA" sign --key "$KEY" --bank a --version 1.0.0+1 --security-counter 1 -o "$out/slot_a.img" "$FW/app-a.elf"
"$FOTA" sign --key "$KEY" --bank b --version 1.1.0+2 --security-counter 1 -o "$out/slot_b.img" "$FW/app-b.elf"

step "fota inspect slot_b.img"
"$FOTA" inspect --pubkey "$KEY" "$out/slot_b.img"

echo
echo "(QEMU's flash is read-only: where the bootloader or the application records metadata, it"
echo " reports the write as failed. The decisions are the same; on the simulated flash they stick.)"

step "Device 1: metadata names bank B. USART1:"
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$out/slot_a.img" --bank-b "$out/slot_b.img" \
  --boot-bank b --security-counter 1 --pubkey "$KEY" -o "$out/flash.bin" >/dev/null
$RUN "$out/flash.bin" "app: confirmed" | sed 's/^/   | /'

step "Device 2: the same, with one byte of bank B changed. USART1:"
cp "$out/flash.bin" "$out/flash-tampered.bin"
printf '\x00' | dd of="$out/flash-tampered.bin" bs=1 seek=$((0x60000 + 0x300)) conv=notrunc status=none
$RUN "$out/flash-tampered.bin" "running from bank" | sed 's/^/   | /'

step "Device 3: bank B on trial, never confirmed in 3 boots. USART1:"
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$out/slot_a.img" --bank-b "$out/slot_b.img" \
  --trial b --attempts 3 --security-counter 1 -o "$out/flash-trial.bin" >/dev/null
$RUN "$out/flash-trial.bin" "running from bank" | sed 's/^/   | /'

step "Over the air: fota-server -> fota-bridge -> the real firmware on fota-emu (emulated STM32F407) running v1.0.0"
port=5000
while curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; do port=$((port + 1)); done
rel=$out/releases; rm -rf "$rel" "$out/bridge-state" "$out/emu-flash.bin" "$out/emu.sock"
mkdir -p "$rel" "$out/bridge-state"
"$FOTA" sign --key "$KEY" --bank a --version 1.1.0+2 --security-counter 1 -o "$out/slot_a-1.1.0.img" "$FW/app-a.elf" >/dev/null
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$out/publish.token"
# The device gets its own key for encrypted images (the third update): at the end of the
# bootloader's sectors, write-protected with them (docs/encryption.md).
"$FOTA" keygen --device-enc --force -o "$out/device-enc.pem" >/dev/null
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$out/slot_a.img" --device-key "$out/device-enc.pem" \
  -o "$out/sim-init.bin" >/dev/null
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
"$HOST/fota-server" --root "$rel" --port "$port" --pubkey "$KEY" --publish-token-file "$out/publish.token" \
  >"$out/server.log" 2>&1 &
pids+=($!)
"$HOST/fota-emu" --flash "$out/emu-flash.bin" --init "$out/sim-init.bin" --socket "$out/emu.sock" --quiet \
  >"$out/emu.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do [ -S "$out/emu.sock" ] && curl -s -o /dev/null "http://127.0.0.1:$port/version" && break; sleep 0.05; done
[ -S "$out/emu.sock" ] || { echo "fota-emu did not come up:"; cat "$out/emu.log"; exit 1; }
echo "fota-server on http://127.0.0.1:$port, fota-emu on $out/emu.sock"
auth="Authorization: Bearer $(cat "$out/publish.token")"
# publish VERSION A.img B.img: upload both images, then activate (the server checks signatures,
# banks and version, makes patches from the releases before, and switches atomically).
publish() {
  local api=http://127.0.0.1:$port/api/v1/releases/$1
  curl -sf -H "$auth" -T "$2" "$api/slot_a.bin" >/dev/null && curl -sf -H "$auth" -T "$3" "$api/slot_b.bin" >/dev/null &&
    curl -sf -H "$auth" -X POST "$api/activate" >/dev/null
}
# update PATTERN: one bridge run; shows the device's USART1 since, and checks it printed PATTERN.
update() {
  local lines
  lines=$(grep -c '^usart: ' "$out/emu.log" || true)
  echo
  "$HOST/fota-bridge" --server "http://127.0.0.1:$port" --state-dir "$out/bridge-state" --device-id demo-device \
    --sim-socket "$out/emu.sock"
  "$HOST/fota-link" --socket "$out/emu.sock" wait 500 >/dev/null
  echo
  echo "The device's USART1 (real bootloader and application, emulated) since the bridge started:"
  sed -n 's/^usart: /   | /p' "$out/emu.log" | tail -n +"$((lines + 1))"
  grep -q "$1" "$out/emu.log" || { echo "demo: the device did not print '$1'"; exit 1; }
}
publish 1.1.0 "$out/slot_a-1.1.0.img" "$out/slot_b.img"
echo "published v1.1.0 through the server's API: /version now says $(curl -s "http://127.0.0.1:$port/version")"
update "app: confirmed (trial over)"
stats=$("$HOST/fota-link" --socket "$out/emu.sock" stats)
get() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$stats"; }
served=$(awk '/GET \/firmware\/slot_b.bin/ && match($0, /\([0-9]+ bytes\)/) {s += substr($0, RSTART + 1, RLENGTH - 8)}
              END {print s + 0}' "$out/server.log")
echo
echo "Summary:"
echo "  device: fota-emu, real firmware, $(($(get hclk_hz) / 1000000)) MHz ($(get instructions) instructions emulated)"
echo "  version          1.0.0 -> $(cat "$out/bridge-state/version") (bank A -> bank B, confirmed after a trial boot)"
echo "  image            $(stat -c %s "$out/slot_b.img") bytes; served by HTTP: $served bytes in $(grep -c 'GET /firmware/slot_b.bin' "$out/server.log") Range requests"
echo "  SPI              $(get wire_bytes) bytes in $(get transactions) transactions"
echo "  device time      $(awk -v d="$(get device_us)" -v e="$(get erase_us)" -v p="$(get program_us)" \
  'BEGIN { printf "%.3f s of device time since power-on (erase %.3f s, program %.3f s)", d / 1e6, e / 1e6, p / 1e6 }')"
echo "  device reports   $(curl -s "http://127.0.0.1:$port/api/v1/devices/demo-device/reports")"

step "Second update, as a patch: v1.2.0 changes one line of the application (docs/delta.md)"
# Published like the first; activating it makes patches from v1.1.0, the release before it. The
# device runs v1.1.0 from bank B: the bridge asks it which image that is (its signed SHA-256), the
# server names a patch from it to v1.2.0 for bank A, and the device's agent applies it while
# receiving it, then verifies the image it made exactly as a whole one.
"$FOTA" sign --key "$KEY" --bank a --version 1.2.0+3 --security-counter 1 -o "$out/slot_a-1.2.0.img" "$FW/app-a-v1.elf" >/dev/null
"$FOTA" sign --key "$KEY" --bank b --version 1.2.0+3 --security-counter 1 -o "$out/slot_b-1.2.0.img" "$FW/app-b-v1.elf" >/dev/null
publish 1.2.0 "$out/slot_a-1.2.0.img" "$out/slot_b-1.2.0.img"
echo "published v1.2.0; the server made $(ls "$rel/releases/1.2.0/patches" | wc -l) patches from v1.1.0:"
grep -o "patch [0-9a-f]*\.patch: [0-9]* bytes for a [0-9]*-byte image" "$out/server.log" | sed 's/^/   /'
mark=$(wc -l <"$out/server.log")
before=$("$HOST/fota-link" --socket "$out/emu.sock" stats)
update "app: version 1.2.0 is running from bank A"
after=$("$HOST/fota-link" --socket "$out/emu.sock" stats)
tail -n +"$((mark + 1))" "$out/server.log" >"$out/server.log.2"
got=$(awk '/GET \/api\/v1\/patches\// && match($0, /\([0-9]+ bytes\)/) {s += substr($0, RSTART + 1, RLENGTH - 8)}
           END {print s + 0}' "$out/server.log.2")
img=$(awk '/GET \/firmware\/slot_a.bin/ && match($0, /\([0-9]+ bytes\)/) {s += substr($0, RSTART + 1, RLENGTH - 8)}
           END {print s + 0}' "$out/server.log.2")
full=$(stat -c %s "$out/slot_a-1.2.0.img")
d() { echo $(( $(sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$after") - $(sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$before") )); }
echo
echo "Summary of the second update:"
echo "  version          $(cat "$out/bridge-state/version") (bank B -> bank A, confirmed after a trial boot)"
echo "  downloaded       $got bytes of patch and $img bytes of image, for a $full-byte image ($(awk -v a="$got" -v b="$full" 'BEGIN {printf "%.1f", 100 * a / b}') %)"
echo "  SPI              $(d wire_bytes) bytes in $(d transactions) transactions"
echo "  device time      $(awk -v d="$(d device_us)" -v e="$(d erase_us)" -v p="$(d program_us)" \
  'BEGIN { printf "%.3f s (erase %.3f s, program %.3f s: the flash work is the same as for the whole image)", d / 1e6, e / 1e6, p / 1e6 }')"

step "Third update, encrypted for this device: v1.3.0 (docs/encryption.md)"
# Signed over the plaintext, payload encrypted for the device's key: the server, its folder and the
# bridge only ever hold ciphertext; the device's agent unwraps the image key with its own key and
# decrypts each chunk before programming it.
"$FOTA" sign --key "$KEY" --bank a --version 1.3.0+4 --security-counter 1 --encrypt-for "$out/device-enc.pub.pem" \
  -o "$out/slot_a-1.3.0.img" "$FW/app-a-v1.elf" >/dev/null
"$FOTA" sign --key "$KEY" --bank b --version 1.3.0+4 --security-counter 1 --encrypt-for "$out/device-enc.pub.pem" \
  -o "$out/slot_b-1.3.0.img" "$FW/app-b-v1.elf" >/dev/null
publish 1.3.0 "$out/slot_a-1.3.0.img" "$out/slot_b-1.3.0.img"
echo "published v1.3.0, encrypted; what anyone without the device's key can say of it:"
"$FOTA" verify --pubkey "$KEY" "$out/slot_b-1.3.0.img" | sed 's/^/   /' || true
mark=$(wc -l <"$out/server.log")
update "app: version 1.3.0 is running from bank B"
echo
echo "Summary of the third update:"
echo "  version          $(cat "$out/bridge-state/version") (bank A -> bank B, decrypted by the device, confirmed after a trial boot)"
echo "  downloaded       $(tail -n +"$((mark + 1))" "$out/server.log" | awk '/GET \/firmware\/slot_b.bin/ && match($0, /\([0-9]+ bytes\)/) {s += substr($0, RSTART + 1, RLENGTH - 8)} END {print s + 0}') bytes of ciphertext (server and bridge never held the plaintext)"
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
pids=()

step "Firmware sizes (bootloader limit: 32704 bytes; the device key has the last 64 of its 32 KiB)"
arm-none-eabi-size "$FW/bootloader.elf" "$FW/app-a.elf" "$FW/app-b.elf"
echo
echo "Flash images in $out"
