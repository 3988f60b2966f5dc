#!/bin/sh
# Install the Debian packages named as arguments that are not installed yet,
# the way tools/deps.sh does. "a|b" is satisfied by either; the first is
# installed when neither is. Used by the packaging scripts (build-deb.sh,
# build-wheel.sh, check-packages.sh) so that they run on a fresh machine.
set -eu
missing=""
for alternatives in "$@"; do
    found=""
    for p in $(echo "$alternatives" | tr '|' ' '); do
        if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            found=$p
            break
        fi
    done
    [ -n "$found" ] || missing="$missing ${alternatives%%|*}"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing:$missing"
$SUDO apt-get update -q
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
