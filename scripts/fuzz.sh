#!/usr/bin/env bash
# The cargo-fuzz targets of fuzz/ (issue 14, item 5), as `.ci/run` runs them.
#
#   scripts/fuzz.sh build           build every target once
#   scripts/fuzz.sh run [SECONDS]   run each target over its committed corpus, 30 s each
#
# cargo-fuzz gives rustc nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain take
# them. The targets build into fuzz/target (their flags differ from the workspace's, so
# the main target directory could share nothing with them) in cargo-fuzz's `--dev` mode
# without a sanitizer: mostly unoptimised (see fuzz/Cargo.toml), which builds in a third
# of the time of its default (release with AddressSanitizer, the mode of the long runs in
# fuzz/README.md). A panic or a failed assertion is found either way, and our own code is
# safe Rust.
#
# A short run replays the corpus (every input that once reached new code, including any
# that crashed a parser before it was fixed), then mutates it for the rest of the time,
# so a change that breaks a parser on a known input fails here. The inputs a run adds go
# to a scratch directory: the committed corpora change only by hand (fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
cargo_fuzz_version=0.13.2
flags=(--dev -s none --target-dir target)

if ! cargo fuzz --version 2>/dev/null | grep -qF "$cargo_fuzz_version"; then
    cargo install --locked cargo-fuzz --version "$cargo_fuzz_version"
fi

case ${1:-} in
build)
    cargo fuzz build "${flags[@]}"
    ;;
run)
    seconds=${2:-30}
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    for target in $(cargo fuzz list); do
        mkdir -p "$scratch/$target"
        log=$scratch/$target.log
        if ! cargo fuzz run "${flags[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
            -max_total_time="$seconds" -timeout=60 -print_final_stats=1 >"$log" 2>&1; then
            tail -n 80 "$log" >&2
            echo "error: the fuzz target $target failed; its input is in fuzz/artifacts/$target/" >&2
            exit 1
        fi
        runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
        echo "$target: $runs runs in ${seconds} s over $(ls "corpus/$target" | wc -l) corpus inputs, no crash"
    done
    ;;
*)
    echo "usage: scripts/fuzz.sh build | run [SECONDS]" >&2
    exit 2
    ;;
esac
