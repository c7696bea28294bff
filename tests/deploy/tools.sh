#!/usr/bin/env bash
# tools.sh -- the Go-built tools and offline schemas the deployment tests use.
#
#   tests/deploy/tools.sh          # make sure everything is in .tools/, print its paths
#
# Everything comes from the Go module proxy, pinned:
#   helm         go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION
#   kubeconform  go install github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION
#   Kubernetes   JSON schemas made by k8s_schemas.py from
#                k8s.io/kubernetes@$K8S_VERSION's api/openapi-spec/swagger.json
#   CRD schemas  from the CRD YAMLs in the prometheus-operator, KEDA, Argo
#                Rollouts, KServe and Knative Serving modules (versions below)
#   Compose      the compose-spec JSON schema from Docker Compose's own loader
#                module, github.com/compose-spec/compose-go/v2
#
# Binaries land in .tools/bin, schemas in .tools/schemas (gitignored). A copy
# is also kept in $INFERD_TEST_CACHE/tools (default /var/cache/inferd-test), so
# a fresh clone on the same machine (CI) copies instead of rebuilding: helm
# takes minutes to compile on two cores, a copy takes a second.
#
# Prints KEY=VALUE lines for the tests: HELM, KUBECONFORM, K8S_SCHEMAS,
# CRD_SCHEMAS, KUBE_VERSION, COMPOSE_SCHEMA.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD

HELM_VERSION=v3.22.0
KUBECONFORM_VERSION=v0.8.0
K8S_VERSION=v1.33.5
PROM_OPERATOR_VERSION=v0.85.0
KEDA_VERSION=v2.17.0
ARGO_ROLLOUTS_VERSION=v1.8.3
KSERVE_VERSION=v0.15.0
KNATIVE_SERVING_VERSION=v0.45.0
COMPOSE_GO_VERSION=v2.16.2

TOOLS=$ROOT/.tools
CACHE=${INFERD_TEST_CACHE:-/var/cache/inferd-test}/tools
mkdir -p "$TOOLS/bin"
mkdir -p "$CACHE" 2>/dev/null || CACHE=$TOOLS/cache

say() { printf 'tools: %s\n' "$*" >&2; }

# go_tool NAME PACKAGE VERSION: .tools/bin/NAME at VERSION, from the cache or
# built with go install.
go_tool() {
    local name=$1 pkg=$2 version=$3
    local bin=$TOOLS/bin/$name stamp=$TOOLS/bin/.$name.version cached=$CACHE/$name-$version
    if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
        return
    fi
    if [ -x "$cached" ]; then
        cp "$cached" "$bin"
    else
        command -v go >/dev/null || { say "go is not installed"; exit 1; }
        say "go install $pkg@$version (first run only)"
        local start=$SECONDS
        GOBIN=$TOOLS/bin go install "$pkg@$version" >&2
        say "built $name in $((SECONDS - start))s"
        cp "$bin" "$cached.tmp" && mv "$cached.tmp" "$cached"
    fi
    printf '%s\n' "$version" > "$stamp"
}

# mod_dir MODULE@VERSION: where the module proxy's copy of it is unpacked.
mod_dir() {
    (cd "$TOOLS" && go mod download -json "$1") |
        /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d["Error"]) if "Error" in d else print(d["Dir"])'
}

schemas() {
    local native=$TOOLS/schemas/kubernetes-$K8S_VERSION crd=$TOOLS/schemas/crds
    local want="$K8S_VERSION $PROM_OPERATOR_VERSION $KEDA_VERSION $ARGO_ROLLOUTS_VERSION $KSERVE_VERSION $KNATIVE_SERVING_VERSION $(sha256sum tests/deploy/k8s_schemas.py | cut -c1-16)"
    local stamp=$TOOLS/schemas/.stamp
    if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && [ -d "$native" ] && [ -d "$crd" ]; then
        return
    fi
    say "making Kubernetes and CRD JSON schemas (first run only)"
    rm -rf "$TOOLS/schemas"
    mkdir -p "$TOOLS/schemas"
    local k8s prom keda argo kserve knative
    k8s=$(mod_dir "k8s.io/kubernetes@$K8S_VERSION")
    prom=$(mod_dir "github.com/prometheus-operator/prometheus-operator@$PROM_OPERATOR_VERSION")
    keda=$(mod_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")
    argo=$(mod_dir "github.com/argoproj/argo-rollouts@$ARGO_ROLLOUTS_VERSION")
    kserve=$(mod_dir "github.com/kserve/kserve@$KSERVE_VERSION")
    knative=$(mod_dir "knative.dev/serving@$KNATIVE_SERVING_VERSION")
    /usr/bin/python3 tests/deploy/k8s_schemas.py native "$k8s/api/openapi-spec/swagger.json" "$native" >&2
    /usr/bin/python3 tests/deploy/k8s_schemas.py crd "$crd" \
        "$prom"/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml \
        "$prom"/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml \
        "$keda"/config/crd/bases/keda.sh_scaledobjects.yaml \
        "$argo"/manifests/crds/rollout-crd.yaml \
        "$argo"/manifests/crds/analysis-template-crd.yaml \
        "$kserve"/config/crd/full/serving.kserve.io_clusterservingruntimes.yaml \
        "$kserve"/config/crd/full/serving.kserve.io_inferenceservices.yaml \
        "$knative"/config/core/300-resources/service.yaml >&2
    printf '%s\n' "$want" > "$stamp"
}

go_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
schemas

echo "HELM=$TOOLS/bin/helm"
echo "KUBECONFORM=$TOOLS/bin/kubeconform"
echo "K8S_SCHEMAS=$TOOLS/schemas/kubernetes-$K8S_VERSION"
echo "CRD_SCHEMAS=$TOOLS/schemas/crds"
echo "KUBE_VERSION=${K8S_VERSION#v}"
echo "COMPOSE_SCHEMA=$(mod_dir "github.com/compose-spec/compose-go/v2@$COMPOSE_GO_VERSION")/schema/compose-spec.json"
