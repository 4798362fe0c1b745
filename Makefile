# iter8: three kubectl plugins built from one Go module.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PLUGINS     := run route abn
# Where the images are pushed, and so the default image of every binary built.
IMAGE_REPO  ?= ghcr.io/iter8-tools
# The platforms of the images (make images) and of the archives (make dist).
PLATFORMS   ?= linux/amd64 linux/arm64
DIST_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
IMAGES_DIR  ?= dist/images
MODULE      := github.com/iter8-tools/iter8
# vX.Y.Z at a release tag, v0.0.0-<commit time>-<commit> between releases
# (hack/version.sh): one version for binaries, archives, krew manifests and images.
VERSION     ?= $(shell hack/version.sh)
COMMIT      ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# The commit date, not the time of the build, so that builds are reproducible.
BUILD_DATE  ?= $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
LDFLAGS     := -s -w \
	-X $(MODULE)/pkg/version.Version=$(VERSION) \
	-X $(MODULE)/pkg/version.Commit=$(COMMIT) \
	-X $(MODULE)/pkg/version.BuildDate=$(BUILD_DATE) \
	-X $(MODULE)/pkg/version.ImageRepository=$(IMAGE_REPO)
# The binaries, go vet, staticcheck and go test (with the go builds the tests
# run) all compile static and -trimpath, so that a cold build compiles each
# package once rather than once per set of flags; -race needs cgo.
STATIC      := CGO_ENABLED=0 GOFLAGS=-trimpath
GOBUILD     := $(STATIC) go build -ldflags "$(LDFLAGS)"
GOTEST      := $(STATIC) go test
GOTEST_RACE := GOFLAGS=-trimpath go test -race

TOOLS_BIN   := $(CURDIR)/.tools/bin
STATICCHECK_VERSION := v0.8.2
KREW_VERSION        := v0.4.3
STATICCHECK := $(TOOLS_BIN)/staticcheck-$(STATICCHECK_VERSION)
KREW_VALIDATE := $(TOOLS_BIN)/validate-krew-manifest-$(KREW_VERSION)
# protoc itself comes from Debian's protobuf-compiler (3.21.12 on bookworm);
# its version is recorded in the generated files' headers.
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
PROTOC_GEN_GO      := $(TOOLS_BIN)/protoc-gen-go-$(PROTOC_GEN_GO_VERSION)
PROTOC_GEN_GO_GRPC := $(TOOLS_BIN)/protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION)
PROTOS             := pkg/abn/abnpb/abn.proto pkg/abn/legacypb/abn.proto
CONTROLLER_GEN_VERSION := v0.23.0
CONTROLLER_GEN     := $(TOOLS_BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
# plotly.js, embedded in the HTML reports (internal/webpage/plotly).
PLOTLY_VERSION := 4.1.1
PLOTLY_DIR     := internal/webpage/plotly

TEST_TIMEOUT ?= 30m
DIST_VERSION ?= $(VERSION)
DIST_BASE_URL ?= https://github.com/iter8-tools/iter8/releases/download/$(DIST_VERSION)

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/kubectl-iter8_{run,route,abn}
	@mkdir -p bin
	@for p in $(PLUGINS); do \
		echo "go build bin/kubectl-iter8_$$p"; \
		$(GOBUILD) -o bin/kubectl-iter8_$$p ./plugins/kubectl-iter8-$$p; \
	done

# The modules under hack/tools that controlplane builds from.
CONTROLPLANE_MODULES := kube etcd flux registry traefik

.PHONY: controlplane-modules
controlplane-modules: ## Start fetching the modules controlplane builds from, in the background, and return
	@# A cold build then finds them downloaded instead of waiting on the
	@# network while the cores idle; where they are cached this takes a moment.
	@for d in $(CONTROLPLANE_MODULES); do (cd hack/tools/$$d && go mod download >/dev/null 2>&1 &); done

.PHONY: controlplane
controlplane: controlplane-modules ## Build (once, cached by version) kube-apiserver, etcd, kubectl, kube-controller-manager, kube-scheduler, kubelet, Flux, the registry and Traefik for the tests
	@hack/controlplane.sh kube-apiserver etcd kubectl kube-controller-manager kube-scheduler kubelet >/dev/null
	@hack/controlplane.sh source-controller kustomize-controller >/dev/null
	@hack/controlplane.sh registry >/dev/null
	@hack/controlplane.sh traefik >/dev/null

# The packages with concurrency, whose tests also run under the race
# detector: the A/B/n service, SDK, stores and Route watcher, the Route
# controller, the http and grpc tasks, and the Git writer.
RACE_PACKAGES := ./pkg/abn/service/ ./pkg/abn/sdk/ ./pkg/abn/store/ ./pkg/abn/routes/ ./pkg/reconcile/ ./pkg/tasks/http/ ./pkg/tasks/grpc/ ./pkg/gitops/

.PHONY: test
test: controlplane ## Run all tests: unit, integration (real kube-apiserver + etcd) and e2e, then the concurrent packages' under the race detector
	KUBEBUILDER_ASSETS="$$(hack/controlplane.sh 2>/dev/null)" $(GOTEST) -timeout $(TEST_TIMEOUT) ./...
	KUBEBUILDER_ASSETS="$$(hack/controlplane.sh 2>/dev/null)" $(GOTEST_RACE) -timeout $(TEST_TIMEOUT) $(RACE_PACKAGES)

.PHONY: test-short
test-short: ## Run the fast pure tests (go test -short): no control plane, cluster or browser
	$(GOTEST) -short ./...

.PHONY: test-race
test-race: controlplane ## Run the concurrent packages' tests under the race detector
	KUBEBUILDER_ASSETS="$$(hack/controlplane.sh 2>/dev/null)" $(GOTEST_RACE) -timeout $(TEST_TIMEOUT) $(RACE_PACKAGES)

.PHONY: e2e
e2e: controlplane ## Run the end-to-end tests (built binaries against the real control plane)
	KUBEBUILDER_ASSETS="$$(hack/controlplane.sh 2>/dev/null)" $(GOTEST) -timeout $(TEST_TIMEOUT) -v ./e2e/...

.PHONY: bench
bench: ## Run the benchmarks and print their figures
	$(GOTEST) -run '^$$' -bench . -benchmem ./...

$(STATICCHECK):
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@mv $(TOOLS_BIN)/staticcheck $@

$(PROTOC_GEN_GO):
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	@mv $(TOOLS_BIN)/protoc-gen-go $@

$(PROTOC_GEN_GO_GRPC):
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	@mv $(TOOLS_BIN)/protoc-gen-go-grpc $@

$(CONTROLLER_GEN):
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	@mv $(TOOLS_BIN)/controller-gen $@

$(KREW_VALIDATE):
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) go install sigs.k8s.io/krew/cmd/validate-krew-manifest@$(KREW_VERSION)
	@mv $(TOOLS_BIN)/validate-krew-manifest $@

.PHONY: lint
lint: $(STATICCHECK) $(KREW_VALIDATE) ## gofmt, go vet, staticcheck, and krew's manifest validator
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(STATIC) go vet ./...
	$(STATIC) $(STATICCHECK) ./...
	@for m in krew-manifests/*.yaml; do echo "validate $$m"; $(KREW_VALIDATE) -manifest $$m -skip-install; done

.PHONY: fmt
fmt: ## Format the Go code
	gofmt -w $$(git ls-files '*.go')

.PHONY: tidy
tidy: ## Tidy go.mod files
	go mod tidy
	@for d in hack/tools/*/; do (cd $$d && go mod tidy -e); done # -e: the proxy refuses a test-only dependency of Flux

.PHONY: generate
generate: $(PROTOC_GEN_GO) $(PROTOC_GEN_GO_GRPC) $(CONTROLLER_GEN) ## Run the code generators: Route deepcopy and CRD (controller-gen), protoc (apt-get install protobuf-compiler libprotobuf-dev)
	go generate ./...
	$(CONTROLLER_GEN) object paths=./pkg/route/...
	$(CONTROLLER_GEN) crd paths=./pkg/route/... output:crd:artifacts:config=config/crd
	@command -v protoc >/dev/null || { echo "protoc is missing: apt-get install -y protobuf-compiler libprotobuf-dev"; exit 1; }
	protoc --plugin=protoc-gen-go=$(PROTOC_GEN_GO) --plugin=protoc-gen-go-grpc=$(PROTOC_GEN_GO_GRPC) \
		--go_out=. --go_opt=module=$(MODULE) --go-grpc_out=. --go-grpc_opt=module=$(MODULE) $(PROTOS)

.PHONY: plotly
plotly: ## Fetch plotly.js (plotly.js-basic-dist-min@PLOTLY_VERSION, from the npm registry) with its licence into internal/webpage/plotly
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent plotly.js-basic-dist-min@$(PLOTLY_VERSION) >/dev/null && tar xzf plotly.js-basic-dist-min-$(PLOTLY_VERSION).tgz) && \
	grep -q '"license": "MIT"' "$$tmp/package/package.json" && \
	cp "$$tmp/package/plotly-basic.min.js" "$$tmp/package/LICENSE" $(PLOTLY_DIR)/ && \
	echo $(PLOTLY_VERSION) > $(PLOTLY_DIR)/VERSION && echo "plotly.js $(PLOTLY_VERSION) in $(PLOTLY_DIR)"

.PHONY: verify
verify: fmt tidy generate lint ## Fail if formatting, tidying or generating changes the tree
	@if [ -n "$$(git status --porcelain)" ]; then echo "the tree changed; commit the result of make fmt tidy generate:"; git status --porcelain; exit 1; fi

.PHONY: dist
dist: ## Build release archives into dist/ and fill in krew-manifests (DIST_VERSION, DIST_BASE_URL, DIST_PLATFORMS)
	COMMIT=$(COMMIT) BUILD_DATE=$(BUILD_DATE) IMAGE_REPO=$(IMAGE_REPO) PLATFORMS="$(DIST_PLATFORMS)" hack/dist.sh "$(DIST_VERSION)" "$(DIST_BASE_URL)"

.PHONY: images
images: ## Build the images of the three plugins for PLATFORMS as an OCI image layout in IMAGES_DIR (no container engine); prints REF@DIGEST
	@for platform in $(PLATFORMS); do \
		IFS=/ read -r os arch variant <<<"$$platform"; dir=dist/bin/$${platform//\//_}; \
		for p in $(PLUGINS); do \
			echo "go build $$dir/kubectl-iter8_$$p" >&2; \
			GOOS=$$os GOARCH=$$arch GOARM=$${variant#v} $(GOBUILD) -o $$dir/kubectl-iter8_$$p ./plugins/kubectl-iter8-$$p; \
		done; \
	done
	@go run ./hack/images build -out $(IMAGES_DIR) -repo $(IMAGE_REPO) -version $(VERSION) -commit $(COMMIT) \
		-created $(BUILD_DATE) -bin-dir dist/bin -platforms "$(PLATFORMS)" | tee $(IMAGES_DIR).txt

.PHONY: push
push: images ## Build the images and push them to IMAGE_REPO with the Docker config's credentials (docker/crane/podman login)
	go run ./hack/images push -layout $(IMAGES_DIR)

.PHONY: cluster-up
cluster-up: ## Start a local control plane (etcd and kube-apiserver) and write .cluster/kubeconfig
	@KUBEBUILDER_ASSETS="$$(hack/controlplane.sh)" hack/cluster.sh up

.PHONY: cluster-down
cluster-down: ## Stop the local control plane and remove its state
	@hack/cluster.sh down

.PHONY: clean
clean: ## Remove build outputs (the control-plane cache is kept)
	rm -rf bin dist .tools
