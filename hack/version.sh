#!/usr/bin/env bash
# Prints the version of the tree, the one binaries, archives, krew manifests
# and image tags carry:
#   vX.Y.Z                           at an exact release tag
#   v0.0.0-YYYYMMDDHHMMSS-<12 hex>   between releases: the commit's time (UTC)
#                                    and hash, as a Go pseudo-version, so that
#                                    versions sort by commit time and krew
#                                    accepts them
# either with -dirty when tracked files have uncommitted changes (other than
# krew-manifests/, which make dist writes), and "dev" outside a Git checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! git rev-parse --verify -q HEAD >/dev/null 2>&1; then
	echo dev
	exit 0
fi
dirty=
git diff --quiet HEAD -- . ':(exclude)krew-manifests' 2>/dev/null || dirty=-dirty
if tag=$(git describe --tags --exact-match --match 'v[0-9]*.[0-9]*.[0-9]*' 2>/dev/null); then
	echo "$tag$dirty"
	exit 0
fi
echo "v0.0.0-$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S)-$(git rev-parse --short=12 HEAD)$dirty"
