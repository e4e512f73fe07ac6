# Shared settings for drbd-rs scripts: versions, cache locations, tool paths. Sourced, not run.
LINUX_SERIES=7.3
LINUX_DEB_VERSION=${LINUX_DEB_VERSION:-7.3.4-1~bpo13+1}
BINDGEN_VERSION=0.72.1
# Build products that are expensive and independent of the checkout live outside the repo, so
# sessions and CI runs on the same machine reuse them.
CACHE_DIR=${DRBD_RS_CACHE:-/var/cache/drbd-rs}
KSRC=$CACHE_DIR/linux-source-$LINUX_DEB_VERSION
BINDGEN=$CACHE_DIR/bindgen/bin/bindgen
KMAKE_FLAGS=(LLVM=-19 RUSTC=/usr/bin/rustc BINDGEN="$BINDGEN")
