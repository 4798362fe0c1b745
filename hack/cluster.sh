#!/usr/bin/env bash
# Starts or stops the local control plane of make cluster-up / cluster-down.
#   hack/cluster.sh up     start it in the background, write .cluster/kubeconfig
#   hack/cluster.sh down   stop it and remove .cluster
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.cluster

running() { [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; }

case ${1:-} in
up)
	if running; then
		echo "the control plane is already running (pid $(cat "$dir/pid"))" >&2
	else
		rm -rf "$dir" && mkdir -p "$dir"
		go build -o "$dir/cluster" ./hack/cluster
		nohup "$dir/cluster" --dir "$dir" >"$dir/cluster.log" 2>&1 &
		echo $! >"$dir/pid"
		for _ in $(seq 1 600); do
			[ -f "$dir/kubeconfig" ] && break
			if ! running; then cat "$dir/cluster.log" >&2; echo "the control plane failed to start" >&2; exit 1; fi
			sleep 0.1
		done
		[ -f "$dir/kubeconfig" ] || { echo "the control plane was not ready within 60s; see $dir/cluster.log" >&2; exit 1; }
		echo "control plane ready (etcd + kube-apiserver on 127.0.0.1, pid $(cat "$dir/pid"))" >&2
	fi
	echo "export KUBECONFIG=$PWD/$dir/kubeconfig"
	;;
down)
	if running; then
		pid=$(cat "$dir/pid")
		kill "$pid"
		for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
		echo "control plane stopped" >&2
	fi
	rm -rf "$dir"
	;;
*)
	echo "usage: hack/cluster.sh up|down" >&2
	exit 2
	;;
esac
