# drbd-rs: top-level entry points. See README.md.
#   make check        every test: cargo tests, decoder fuzzer, KUnit in QEMU, ~85 VM scenarios
#                     (each timed); ends "check: total N s (...)", "check: N passed, N failed"
#   make check-quick  edit-compile-test loop (< 10 min): same builds, cargo tests, KUnit in QEMU,
#                     drbd-rs smoke replication; ends "check-quick: N passed, N failed"
#   make demo         boots two guests and prints DRBD status of a replicated resource
#   make setup        installs packages, the Linux 7.3 source and bindgen (as root; check does it too)
#   make module       builds drbd_rs.ko against the cached test kernel (KDIR=... for another kernel)
#   make bench        fio benchmark table (drbd-rs vs C DRBD vs raw disk)
#   make print-artifacts  one NAME=path line per built artifact (KERNEL=, KDIR=, MODULE=, ...)
# (kbuild reads ./Kbuild, not this file, when it builds the module.)

SHELL := /bin/bash
.PHONY: check check-quick demo bench print-artifacts setup kernel module tools clean

check:
	@bash scripts/check.sh

check-quick:
	@bash scripts/check-quick.sh

demo:
	@bash scripts/demo.sh

bench:
	@bash scripts/bench.sh

print-artifacts:
	@bash scripts/print-artifacts.sh

setup:
	@bash scripts/setup.sh

kernel:
	@bash scripts/build-kernel.sh

# Build against any kernel tree with CONFIG_RUST=y: make module KDIR=/lib/modules/$(uname -r)/build
module:
	@if [ -n "$(KDIR)" ]; then \
	    $(MAKE) -C "$(KDIR)" M="$(CURDIR)" MO="$(CURDIR)/build/module-$$(basename $(KDIR))" modules; \
	else \
	    scripts/build-module.sh "$$(scripts/build-kernel.sh)" build/module; \
	fi

tools:
	@cd userspace-tools && cargo build --release

clean:
	rm -rf build userspace-tools/target
