#!/usr/bin/env bash
# ops/terraform.sh tofu|provider|all|docs
#
# Builds the two binaries the Terraform tests need and prints their paths:
#   tofu      OpenTofu $TOFU_VERSION, built from the Go module proxy into
#             $CACHE/go/bin/tofu-$TOFU_VERSION (first run ~3-5 min on 2 cores, then cached).
#   provider  terraform/provider, built into
#             $CACHE/terraform/provider-<hash of its sources>/terraform-provider-granary,
#             so a change to the provider's sources rebuilds it and nothing else does.
#   docs      both, then terraform/docs rendered from the provider's schema
#             (ops/terraform_docs.py; a test fails when the checked-in pages differ).
#   test-build  compiles the provider's Go tests (terraform-plugin-testing; minutes the
#             first time, then cached), so that `test` only runs them.
#   test      the provider's Go tests, acceptance tests included: TF_ACC=1, with OpenTofu as
#             TF_ACC_TERRAFORM_PATH; GRANARY_HOST, GRANARY_API_KEY and GRANARY_TEST_PROJECT
#             come from the caller (tests/control_plane/test_terraform_acceptance.py).
#
# No provider registry is reachable from here, which is the air-gapped user's situation:
# the tests install the provider through a CLI config with `dev_overrides` (see
# terraform/README.md). `go install .../cmd/tofu@VERSION` is refused because OpenTofu's
# go.mod replaces hcl/v2, so a small wrapper module carries that same replace line.
set -euo pipefail
# shellcheck disable=SC2034  # SVC is the log prefix used by lib.sh
SVC=terraform
# shellcheck source=ops/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TOFU_VERSION=${TOFU_VERSION:-v1.10.6}
# OpenTofu v1.10.6's go.mod: replace github.com/hashicorp/hcl/v2 => github.com/opentofu/hcl/v2 ...
TOFU_HCL_REPLACE=${TOFU_HCL_REPLACE:-github.com/opentofu/hcl/v2 v2.20.2-0.20250121132637-504036cd70e7}
TOFU_BIN="$GO_CACHE/bin/tofu-$TOFU_VERSION"
PROVIDER_SRC="$REPO/terraform/provider"

build_tofu() {
  [[ -x "$TOFU_BIN" ]] && { echo "$TOFU_BIN"; return 0; }
  command -v go >/dev/null || die "go is required to build OpenTofu"
  mkdir -p "$GO_CACHE/bin"
  exec 9>"$GO_CACHE/tofu.lock"
  flock 9   # two checkouts sharing the cache build it once
  if [[ ! -x "$TOFU_BIN" ]]; then
    log "building OpenTofu $TOFU_VERSION from the Go module proxy (first run only, minutes)"
    local work="$CACHE/terraform/tofu-build-$TOFU_VERSION"
    rm -rf "$work" && mkdir -p "$work"
    cat >"$work/go.mod" <<MOD
module tofubuild

go 1.24.6

require github.com/opentofu/opentofu $TOFU_VERSION

replace github.com/hashicorp/hcl/v2 => $TOFU_HCL_REPLACE
MOD
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/opentofu/opentofu/cmd/tofu"\n' >"$work/tools.go"
    ( cd "$work" && go_env go mod tidy && go_env go build -trimpath -ldflags "-s -w" \
        -o "$TOFU_BIN.tmp" github.com/opentofu/opentofu/cmd/tofu ) >"$work/build.log" 2>&1 \
      || { tail -30 "$work/build.log" >&2; die "OpenTofu build failed (log: $work/build.log)"; }
    mv "$TOFU_BIN.tmp" "$TOFU_BIN"
  fi
  echo "$TOFU_BIN"
}

build_provider() {
  command -v go >/dev/null || die "go is required to build the provider"
  local hash out
  hash=$(cd "$PROVIDER_SRC" && find . -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) \
           ! -name '*_test.go' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
  out="$CACHE/terraform/provider-$hash/terraform-provider-granary"
  if [[ ! -x "$out" ]]; then
    log "building terraform-provider-granary ($hash)"
    mkdir -p "$(dirname "$out")"
    # a temporary name of this process's own: checkouts sharing the cache may build at once
    ( cd "$PROVIDER_SRC" && go_env go build -trimpath -o "$out.$$" . ) \
      || { rm -f "$out.$$"; die "provider build failed"; }
    mv "$out.$$" "$out"
  fi
  echo "$out"
}

# render_docs: the provider's schema as OpenTofu reports it, installed from a throwaway
# filesystem mirror, rendered into terraform/docs.
render_docs() {
  local tofu provider work
  tofu=$(build_tofu) provider=$(build_provider)
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  local plugin="$work/mirror/registry.opentofu.org/granary/granary/0.1.0/linux_amd64"
  mkdir -p "$plugin" "$work/ws"
  cp "$provider" "$plugin/terraform-provider-granary_v0.1.0"
  printf 'provider_installation {\n  filesystem_mirror {\n    path = "%s"\n  }\n}\n' "$work/mirror" >"$work/tofu.rc"
  printf 'terraform {\n  required_providers {\n    granary = { source = "granary/granary" }\n  }\n}\n' >"$work/ws/main.tf"
  ( cd "$work/ws" && export TF_CLI_CONFIG_FILE="$work/tofu.rc" CHECKPOINT_DISABLE=1 \
      && "$tofu" init -no-color >/dev/null && "$tofu" providers schema -json >"$work/schema.json" )
  rm -rf "$REPO/terraform/docs"
  "${PYTHON:-python3}" "$OPS_DIR/terraform_docs.py" "$work/schema.json" "$REPO/terraform/docs"
}

# run_tests: the provider's Go tests with the acceptance tests on, driving the built
# OpenTofu; the provider is served in the test process (TF_REATTACH_PROVIDERS), so nothing
# is installed.
run_tests() {
  local tofu
  tofu=$(build_tofu)
  ( cd "$PROVIDER_SRC" && TF_ACC=1 TF_ACC_TERRAFORM_PATH="$tofu" TF_ACC_PROVIDER_HOST=registry.opentofu.org \
      TF_ACC_PROVIDER_NAMESPACE=granary CHECKPOINT_DISABLE=1 go_env go test -count=1 -v ./... )
}

case "${1:-}" in
  tofu) build_tofu ;;
  provider) build_provider ;;
  all) build_tofu; build_provider ;;
  docs) render_docs ;;
  test-build) ( cd "$PROVIDER_SRC" && go_env go test -count=1 -run '^$' ./... >/dev/null ) ;;
  test) run_tests ;;
  *) echo "usage: $(basename "$0") tofu|provider|all|docs|test-build|test" >&2; exit 2 ;;
esac
