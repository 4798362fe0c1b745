#!/usr/bin/env bash
# Builds the binaries of the test control plane from the Go module proxy into a
# cache keyed by version, and prints the folder that holds them.
#
#   hack/controlplane.sh [COMPONENT...]
#
# COMPONENT is kube-apiserver, etcd, kube-controller-manager, kube-scheduler, kubelet or
# kubectl (used by the end-to-end tests); the default is kube-apiserver and etcd.
# Flux's source-controller and kustomize-controller (the end-to-end tests of the
# route controller's Git sink) are built from hack/tools/flux into a folder of
# their own, flux-VERSION, which is then the line printed; they cannot be asked
# for together with the others. Likewise CNCF Distribution's registry (the image
# tests), built from hack/tools/registry into registry-VERSION, and Traefik (the data
# plane the end-to-end tests route requests through), built from hack/tools/traefik
# into traefik-VERSION. A component already in the cache is not built again. The cache is $ITER8_CACHE_DIR, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/iter8. Progress goes to stderr; the folder
# (usable as KUBEBUILDER_ASSETS) is the only line on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kube_version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "$here/tools/kube/go.mod")
etcd_version=$(awk '$1 == "require" && $2 == "go.etcd.io/etcd/server/v3" {print $3}' "$here/tools/etcd/go.mod")
cache=${ITER8_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/iter8}
flux_version=$(awk '$1 == "github.com/fluxcd/source-controller" {print $2}' "$here/tools/flux/go.mod")
out="$cache/controlplane/kubernetes-$kube_version-etcd-$etcd_version"
flux_out="$cache/controlplane/flux-$flux_version"
registry_version=$(awk '$1 == "require" && $2 == "github.com/distribution/distribution/v3" {print $3}' "$here/tools/registry/go.mod")
registry_out="$cache/controlplane/registry-$registry_version"
traefik_version=$(awk '$1 == "require" && $2 == "github.com/traefik/traefik/v3" {print $3}' "$here/tools/traefik/go.mod")
traefik_out="$cache/controlplane/traefik-$traefik_version"

components=("$@")
[ ${#components[@]} -gt 0 ] || components=(kube-apiserver etcd)

say() { echo "controlplane: $*" >&2; }

# build NAME MODULE_DIR PACKAGE LDFLAGS [OUT]: go build with a heartbeat, since a
# cold build of kube-apiserver takes ~17 minutes on 2 cores and prints nothing else.
build() {
	local name=$1 dir=$2 pkg=$3 ldflags=$4 dest=${5:-$out}
	local log tmp start pid n
	mkdir -p "$dest"
	log=$(mktemp) tmp="$dest/.$name.tmp"
	start=$(date +%s)
	say "building $name from $pkg (a cold build of kube-apiserver takes ~17 min on 2 cores, etcd ~2 min, the Flux controllers ~10 min, Traefik 10-25 min; later builds are skipped)"
	# stdout not inherited: a child the go command leaves behind (telemetry)
	# would keep the caller's pipe open after this script ends.
	(cd "$dir" && CGO_ENABLED=0 go build -v -trimpath -ldflags "$ldflags" -o "$tmp" "$pkg") >/dev/null 2>"$log" &
	pid=$!
	# Polled every second, so that the next build starts as soon as this one
	# ends; the heartbeat is every 30 s.
	local ticks=0
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		ticks=$((ticks + 1))
		if [ $((ticks % 30)) -eq 0 ] && kill -0 "$pid" 2>/dev/null; then
			n=$(grep -cv '^go: ' "$log" || true)
			say "  still building $name: $(( $(date +%s) - start ))s, $n packages compiled"
		fi
	done
	if ! wait "$pid"; then
		tail -n 40 "$log" >&2
		rm -f "$log" "$tmp"
		say "building $name failed"
		return 1
	fi
	rm -f "$log"
	mv "$tmp" "$dest/$name"
	say "built $name in $(( $(date +%s) - start ))s"
}

mkdir -p "$out"
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	kube_ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=$(echo "$kube_version" | cut -d. -f1 | tr -d v)"
	kube_ldflags+=" -X $pkg.gitMinor=$(echo "$kube_version" | cut -d. -f2) -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
printed=$out
for c in "${components[@]}"; do
	case $c in
	source-controller | kustomize-controller)
		if [ "$printed" != "$flux_out" ] && [ "$c" != "${components[0]}" ]; then
			say "the Flux controllers are cached apart: ask for them alone"
			exit 2
		fi
		printed=$flux_out
		if [ -x "$flux_out/$c" ]; then
			say "$c $flux_version is cached in $flux_out"
		else
			build "$c" "$here/tools/flux" "github.com/fluxcd/$c" "-s -w" "$flux_out"
		fi
		continue ;;
	registry | traefik)
		if [ "${#components[@]}" -ne 1 ]; then
			say "$c is cached apart: ask for it alone"
			exit 2
		fi
		if [ "$c" = registry ]; then
			printed=$registry_out
			if [ -x "$registry_out/registry" ]; then
				say "registry $registry_version is cached in $registry_out"
			else
				build registry "$here/tools/registry" github.com/distribution/distribution/v3/cmd/registry "-s -w" "$registry_out"
			fi
		else
			printed=$traefik_out
			if [ -x "$traefik_out/traefik" ]; then
				say "traefik $traefik_version is cached in $traefik_out"
			else
				build traefik "$here/tools/traefik" github.com/traefik/traefik/v3/cmd/traefik "-s -w" "$traefik_out"
			fi
		fi
		continue ;;
	esac
	if [ "$printed" = "$flux_out" ]; then
		say "the Flux controllers are cached apart: ask for them alone"
		exit 2
	fi
	if [ -x "$out/$c" ]; then
		say "$c $([ "$c" = etcd ] && echo "$etcd_version" || echo "$kube_version") is cached in $out"
		continue
	fi
	case $c in
	kube-apiserver | kube-controller-manager | kube-scheduler | kubectl | kubelet)
		build "$c" "$here/tools/kube" "k8s.io/kubernetes/cmd/$c" "$kube_ldflags" ;;
	etcd)
		build etcd "$here/tools/etcd" go.etcd.io/etcd/server/v3 "-s -w" ;;
	*)
		say "unknown component \"$c\": allowed are kube-apiserver, etcd, kube-controller-manager, kube-scheduler, kubelet, kubectl, source-controller, kustomize-controller, registry, traefik"
		exit 2 ;;
	esac
done
echo "$printed"
