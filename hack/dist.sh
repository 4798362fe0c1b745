#!/usr/bin/env bash
# Builds the release archives of the three plugins for every krew platform
# into dist/, and writes krew-manifests/*.yaml with their URLs and sha256.
#   [PLATFORMS="linux/amd64 ..."] [IMAGE_REPO=...] hack/dist.sh VERSION BASE_URL
# The archives are reproducible: binaries are built with -trimpath and the
# commit date, and tar/gzip carry no times or owners.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: hack/dist.sh VERSION BASE_URL}
base_url=${2:?usage: hack/dist.sh VERSION BASE_URL}
module=github.com/iter8-tools/iter8
commit=${COMMIT:-$(git rev-parse HEAD)}
build_date=${BUILD_DATE:-$(git log -1 --format=%cI)}
image_repo=${IMAGE_REPO:-ghcr.io/iter8-tools}
ldflags="-s -w -X $module/pkg/version.Version=$version -X $module/pkg/version.Commit=$commit -X $module/pkg/version.BuildDate=$build_date -X $module/pkg/version.ImageRepository=$image_repo"
# PLATFORMS (OS/ARCH, separated by spaces) builds fewer, e.g. for a local install.
platforms=${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64}
case $version in
v[0-9]*) ;;
*) echo "dist: version \"$version\" does not start with v, which krew requires; use vX.Y.Z or hack/version.sh" >&2; exit 2 ;;
esac

declare -A short=(
	[run]="Run experiments: load-test versions, gather metrics, assess SLOs"
	[route]="Route traffic to the ready versions of an app with a service mesh"
	[abn]="A/B/n test versions with sticky assignment and business metrics"
)

mkdir -p dist krew-manifests && rm -f dist/*.tar.gz dist/SHA256SUMS
for p in run route abn; do
	bin=kubectl-iter8_$p
	manifest=krew-manifests/iter8-$p.yaml
	{
		cat <<YAML
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: iter8-$p
spec:
  version: $version
  homepage: https://github.com/iter8-tools/iter8
  shortDescription: "${short[$p]}"
  description: |
    kubectl iter8-$p is one of the iter8 plugins for releasing new versions of
    apps and ML inference services safely. Run "kubectl iter8-$p --help" for
    its commands; see the homepage for a quickstart.
  platforms:
YAML
	} >"$manifest"
	for platform in $platforms; do
		os=${platform%/*} arch=${platform#*/}
		exe=$bin
		[ "$os" = windows ] && exe=$bin.exe
		name=${bin}_${version}_${os}_${arch}
		stage=dist/$name
		mkdir -p "$stage"
		echo "dist: $name.tar.gz" >&2
		GOOS=$os GOARCH=$arch CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$stage/$exe" ./plugins/kubectl-iter8-$p
		cp LICENSE "$stage/LICENSE"
		tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$stage" -cf - "$exe" LICENSE | gzip -n -9 >"dist/$name.tar.gz"
		rm -rf "$stage"
		sum=$(sha256sum "dist/$name.tar.gz" | cut -d' ' -f1)
		cat >>"$manifest" <<YAML
  - selector:
      matchLabels:
        os: $os
        arch: $arch
    uri: $base_url/$name.tar.gz
    sha256: $sum
    files:
    - from: $exe
      to: .
    - from: LICENSE
      to: .
    bin: $exe
YAML
	done
done
(cd dist && sha256sum ./*.tar.gz >SHA256SUMS)
echo "dist: wrote dist/*.tar.gz, dist/SHA256SUMS and krew-manifests/*.yaml for $version" >&2
