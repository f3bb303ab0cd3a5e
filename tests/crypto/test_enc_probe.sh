#!/usr/bin/env bash
# The image-encryption primitives on the Cortex-M4 (issue 14): firmware/probes/enc_probe.c, built
# with the device's decrypting configuration (crypto/mbedtls_config_device_enc.h), runs the known
# answers of test_crypto_enc under qemu-system-arm -M netduinoplus2 and exits with the number of
# failures. (Its first version failed HKDF and AES-CTR: PSA's built-in drivers allocate, and the
# device had no pool for them.)
set -uo pipefail
FW=${1:?firmware build dir}
out=$(timeout 300 qemu-system-arm -M netduinoplus2 -nographic -monitor none -serial null \
  -semihosting-config enable=on,target=native -device loader,file="$FW/enc-probe.elf" 2>&1); code=$?
echo "$out"
if [ "$code" -eq 0 ] && grep -q "enc_probe: 0 known-answer failures on the device" <<<"$out"; then
  echo "ok: ECDH, HKDF, HMAC and AES-128-CTR give the known answers on the device build"
else
  echo "FAIL: enc_probe exit $code"; exit 1
fi
