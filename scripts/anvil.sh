# shellcheck shell=bash
# Installs anvil (with `--network tempo`: a real Tempo chain) and cast from
# npm into .tools, once. Sourced by scripts/test and scripts/demo, which
# define `root` (the repository) and `die` first.
#
# TOWER_MPP_ANVIL, when set, names an anvil binary to use instead (and
# TOWER_MPP_CAST a cast binary).

ANVIL_PACKAGES=(@foundry-rs/anvil-linux-amd64@1.7.1 @foundry-rs/cast-linux-amd64@1.7.1)

# The anvil binary ensure_anvil makes sure of.
anvil_binary() {
    echo "${TOWER_MPP_ANVIL:-$root/.tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil}"
}

# The cast binary ensure_anvil installs beside anvil (TOWER_MPP_CAST, when
# set, names another).
cast_binary() {
    echo "${TOWER_MPP_CAST:-$root/.tools/node_modules/@foundry-rs/cast-linux-amd64/bin/cast}"
}

# The Tempo tests start their own anvil from .tools (or TOWER_MPP_ANVIL).
ensure_anvil() {
    if [[ -n "${TOWER_MPP_ANVIL:-}" ]]; then
        [[ -x "$TOWER_MPP_ANVIL" ]] || die "TOWER_MPP_ANVIL=$TOWER_MPP_ANVIL is not executable"
        return
    fi
    local anvil="$root/.tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
    local cast="$root/.tools/node_modules/@foundry-rs/cast-linux-amd64/bin/cast"
    if [[ -x "$anvil" ]] && "$anvil" --version 2>/dev/null | grep -q '1\.7\.1' && [[ -x "$cast" ]]; then
        return
    fi
    command -v npm >/dev/null || die "npm is needed to install anvil"
    echo "installing ${ANVIL_PACKAGES[*]} (npm)"
    npm install --silent --no-audit --no-fund --prefix "$root/.tools" "${ANVIL_PACKAGES[@]}" ||
        die "npm could not install anvil"
    "$anvil" --version >/dev/null || die "anvil installed but does not run"
}
