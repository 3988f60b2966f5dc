#!/bin/sh
# The API reference (a CI step): configure BUILDDIR (default build-docs) with
# -Ddocs=enabled, run Doxygen, which fails on any warning, and the apidoc test
# (tools/build/check-apidoc.py: every public declaration documented). The HTML is
# left in BUILDDIR/docs/html.
set -eu
cd "$(dirname "$0")/../.."
dir=${1:-build-docs}
[ -f "$dir/build.ninja" ] ||
    meson setup "$dir" -Ddocs=enabled -Dtests=disabled -Dexamples=false -Dpython=disabled -Dblas=none >/dev/null
meson test -C "$dir" --print-errorlogs apidoc
echo "check-docs: API reference in $dir/docs/html/index.html"
