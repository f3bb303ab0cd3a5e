# The project's two commands (see README.md); each installs whatever is missing first.
#   make demo   the main job: build everything and show a signed image verified on the emulated STM32
#   make test   build host and firmware, run every test (CI runs exactly this)
BUILD ?= build
HOST_DIR := $(abspath $(BUILD)/host)
FW_DIR := $(abspath $(BUILD)/fw)
JOBS ?= $(shell nproc)

.PHONY: all setup host firmware release test demo bench bench-server bench-delta install clean

all: firmware

setup:
	FOTA_TOOLS_DIR=$(abspath $(BUILD))/tools bash scripts/setup.sh

host: setup
	cmake -S . -B $(HOST_DIR) -DFOTA_FW_BUILD_DIR=$(FW_DIR) \
	      -DFOTA_S3RVER=$(abspath $(BUILD))/tools/node_modules/.bin/s3rver
	cmake --build $(HOST_DIR) -j $(JOBS)

firmware: host
	cmake -S firmware -B $(FW_DIR) -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/arm-none-eabi.cmake \
	      -DFOTA_TOOL=$(HOST_DIR)/fota
	cmake --build $(FW_DIR) -j $(JOBS)

# The host tree optimised, without sanitizers, for make install and make bench-server (make test
# compiles it too: tests/core/test_release_build.sh).
release: setup
	cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release -DFOTA_SANITIZE=OFF
	cmake --build $(BUILD)/release -j $(JOBS)

test: firmware
	ctest --test-dir $(HOST_DIR) --output-on-failure -j $(JOBS)

demo: firmware
	bash scripts/demo.sh $(HOST_DIR) $(FW_DIR)

bench: firmware
	bash scripts/bench.sh $(HOST_DIR) $(FW_DIR)

# Delta patches against bsdiff, xdelta3, zstd and xz on a corpus built here (docs/delta.md).
bench-delta: firmware
	bash scripts/bench-delta.sh $(HOST_DIR) $(FW_DIR) $(BUILD)/delta

# fota-server (release build) against nginx, HTTP and TLS, with wrk (docs/PERFORMANCE.md).
bench-server: firmware release
	bash scripts/bench-server.sh $(BUILD)/release $(FW_DIR)

# A release build of the host tools (optimised, no sanitizers) installed under PREFIX with their
# systemd units (docs/deployment.md): sudo make install [PREFIX=/usr/local]
PREFIX ?= /usr/local
install: release
	cmake --install $(BUILD)/release --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)
