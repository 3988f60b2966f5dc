#!/bin/sh
# libvae as a meson subproject (a CI step): a tiny outside project in a
# temporary directory with subprojects/libvae a symlink to this tree (no wrap
# file) builds tests/install/consumer.c against dependency('libvae', fallback:
# 'libvae'), which must be the override the subproject registers, and against
# its libvae_dep variable, and runs both.
set -eu
cd "$(dirname "$0")/../.."
src=$PWD
tmp=$(mktemp -d "${TMPDIR:-/tmp}/libvae-subproject.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/subprojects"
ln -s "$src" "$tmp/subprojects/libvae"
cp tests/install/consumer.c "$tmp/"
cat >"$tmp/meson.build" <<'EOF'
project('libvae-consumer', 'c',
  default_options: ['c_std=c11', 'warning_level=3', 'werror=true',
                    'force_fallback_for=libvae'])  # never an installed libvae
# The usual form: an installed libvae, else the subproject, whose
# meson.override_dependency('libvae', ...) provides the dependency.
vae_dep = dependency('libvae', fallback: 'libvae',
  default_options: ['tests=disabled', 'examples=false', 'docs=disabled', 'python=disabled',
                   'werror=false'])
assert(vae_dep.type_name() == 'internal', 'dependency(libvae) is not the subproject')
exe = executable('consumer', 'consumer.c', dependencies: vae_dep)
test('consumer', exe)
# The variable, for projects that call subproject() themselves.
exe2 = executable('consumer2', 'consumer.c',
  dependencies: subproject('libvae').get_variable('libvae_dep'))
test('consumer2', exe2)
EOF
meson setup "$tmp/build" "$tmp" >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log"; exit 1; }
ninja -C "$tmp/build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
meson test -C "$tmp/build" --print-errorlogs >"$tmp/test.log" 2>&1 || { cat "$tmp/test.log"; exit 1; }
grep -E '^ *[0-9]+/' "$tmp/test.log"
echo "check-subproject: libvae builds and links as a meson subproject"
