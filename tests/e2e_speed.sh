# tests/e2e_speed.sh — the default path at I/O speed without changing a byte, the progress bar,
# and the two-command bootstrap (tools/deps.sh, tools/npm-deps.sh, make demo) driven through
# PATH shims that record any apt-get, sudo or npm call instead of making it.

# tests/run calls each t_* inside an `if`, where bash ignores `set -e` for the whole function
# body; so every test here runs its body in a child bash with -e, where a failing command does
# end the test
# (the functions sourced anew, as strict() does: all their text as one argument passed the
# kernel's 128 KiB limit on one argument once the suite grew)
strict_fns() { bash -ec 'for f in tests/e2e*.sh; do . "$f"; done; "$0"' "$1"; }
not() { ! "$@"; } # `! cmd` would never stop a -e shell; a function returning that status does

# SHA-256 prefixes of `quantize models/tinyllama OPTS` written by the scalar code before the
# vectorised kernels (commit a98f865): the fast path must reproduce them byte for byte.
_t_quantize_bytes_unchanged_by_the_fast_kernels() {
  while read -r want opts; do
    wg quantize models/tinyllama $opts -o "$TMPDIR/q.st" > /dev/null
    got=$(sha256sum "$TMPDIR/q.st" | cut -c1-16)
    [ "$got" = "$want" ] || { echo "quantize $opts: $got, expected $want"; exit 1; }
  done <<'EOF'
e0ee0542f7f9c000 --preset q4
559073b72249d7e9 --preset q4 --rtn
a84d023094b0d48a --preset q3 --asym
a4655aa6300ecf7a --target-bits 4.5
37f50c8b00622c99 --preset q8 --group-size 0
bffd15c25e66b147 --preset mixed
EOF
  # and any thread count
  wg quantize models/tinyllama --preset q4 --threads 1 -o "$TMPDIR/q1.st" > /dev/null
  wg quantize models/tinyllama --preset q4 --threads 5 -o "$TMPDIR/q5.st" > /dev/null
  cmp "$TMPDIR/q1.st" "$TMPDIR/q5.st"
}

# ---- progress: a bar on a terminal (script(1) gives the command one), nothing otherwise
on_tty() { script -qec "$*" "$TMPDIR/tty.log" > /dev/null; tr '\r' '\n' < "$TMPDIR/tty.log"; }

_t_progress_bar_on_a_terminal_build_quantize_verify() {
  on_tty "$WGPACK" build models/tinyllama -o "$TMPDIR/b" --preset q4 > "$TMPDIR/build.txt"
  grep -q '^write *\[#\+\] 39/39 tensors  4.99/4.99 MB  0:0[0-9] ETA 0:00' "$TMPDIR/build.txt"
  grep -q '^plan *\[-\+\] 0/39 tensors' "$TMPDIR/build.txt"
  grep -q '^bundle: ' "$TMPDIR/build.txt" # the summary on a line of its own, after the bar
  on_tty "$WGPACK" quantize models/tinyllama --preset q4 -o "$TMPDIR/q.st" > "$TMPDIR/q.txt"
  grep -q '^quantize *\[#\+\] 39/39 tensors' "$TMPDIR/q.txt"
  on_tty "$WGPACK" verify models/tinyllama --text tools/train_tiny_lm.py --max-tokens 16 --preset q4 > "$TMPDIR/v.txt"
  grep -q '^forward *\[#\+\] 39/39 tensors' "$TMPDIR/v.txt"
}

_t_progress_bar_export_onnx_and_ort() {
  on_tty "$WGPACK" export-onnx models/tinyllama-onnx/model.onnx -o "$TMPDIR/q.onnx" --preset q4 > "$TMPDIR/e.txt"
  grep -q '^export *\[#*-*\] [0-9]*/[0-9]* tensors' "$TMPDIR/e.txt"
}

_t_progress_silent_when_quiet_or_not_a_terminal() {
  on_tty "$WGPACK" build models/tinyllama -o "$TMPDIR/b" --preset q4 --quiet > "$TMPDIR/quiet.txt"
  grep -q '^bundle: ' "$TMPDIR/quiet.txt"
  not grep -q 'tensors  ' "$TMPDIR/quiet.txt"
  wg build models/tinyllama -o "$TMPDIR/b2" --preset q4 > /dev/null 2> "$TMPDIR/err.txt"
  [ ! -s "$TMPDIR/err.txt" ]
  # an error still gets a line of its own after a bar
  on_tty "$WGPACK" build models/tinyllama -o "$TMPDIR/b3" --target-size 1kB > "$TMPDIR/fail.txt" || true
  grep -q '^wgpack: .*budget' "$TMPDIR/fail.txt"
}

# ---- bootstrap
# shims DIR: apt-get, sudo and npm that log their arguments to DIR/calls and fail
shims() {
  mkdir -p "$1"
  for c in apt-get sudo npm; do
    printf '#!/bin/sh\necho "%s $*" >> "%s/calls"\nexit 1\n' "$c" "$1" > "$1/$c"
    chmod +x "$1/$c"
  done
  : > "$1/calls"
}

_t_bootstrap_installs_nothing_when_everything_is_present() {
  shims "$TMPDIR/s"
  PATH="$TMPDIR/s:$PATH" bash tools/deps.sh all
  PATH="$TMPDIR/s:$PATH" bash tools/npm-deps.sh
  PATH="$TMPDIR/s:$PATH" bash tools/npm-deps.sh # the stamp path: no node either
  PATH="$TMPDIR/s:$PATH" timeout 600 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD -u BIN make --no-print-directory demo > "$TMPDIR/demo.txt" 2>&1 || { cat "$TMPDIR/demo.txt"; exit 1; }
  grep -q ': 6 shards, 39 tensors, .* bytes: ok' "$TMPDIR/demo.txt"
  grep -q '^verdict:   agrees with the C reference' "$TMPDIR/demo.txt"   # demo runs it in chromium
  grep -q '^text:      32 tokens generated' "$TMPDIR/demo.txt"
  [ ! -s "$TMPDIR/s/calls" ] || { echo "bootstrap ran:"; cat "$TMPDIR/s/calls"; exit 1; }
}

# a tree with only what deps.sh needs on PATH: dpkg-query reports everything missing, id says
# UID 1000, and there is no sudo
_t_bootstrap_missing_debs_without_root_or_sudo_one_line() {
  shims "$TMPDIR/s"
  mkdir -p "$TMPDIR/p"
  for c in tr grep cut; do ln -s "$(command -v $c)" "$TMPDIR/p/$c"; done
  printf '#!/bin/sh\nexit 1\n' > "$TMPDIR/p/dpkg-query"
  printf '#!/bin/sh\necho 1000\n' > "$TMPDIR/p/id"
  cp "$TMPDIR/s/apt-get" "$TMPDIR/p/"
  chmod +x "$TMPDIR/p/"*
  rc=0
  PATH="$TMPDIR/p" "$BASH" tools/deps.sh build 2> "$TMPDIR/err" || rc=$?
  [ "$rc" = 1 ]
  [ "$(wc -l < "$TMPDIR/err")" = 1 ]
  grep -q '^wgpack: missing Debian packages; as root run: apt-get update && apt-get install -y --no-install-recommends build-essential pkg-config .*libonnx-dev.* lld$' "$TMPDIR/err"
  [ ! -s "$TMPDIR/s/calls" ]
}

_t_bootstrap_missing_debs_as_root_runs_apt() {
  shims "$TMPDIR/s"
  printf '#!/bin/sh\n[ "$3" = libcriterion-dev ] && printf "install ok installed" && exit 0\nexit 1\n' > "$TMPDIR/s/dpkg-query" # -W -f=... PKG
  printf '#!/bin/sh\necho 0\n' > "$TMPDIR/s/id"
  printf '#!/bin/sh\necho "apt-get $*" >> "%s/calls"\n' "$TMPDIR/s" > "$TMPDIR/s/apt-get"
  chmod +x "$TMPDIR/s/"*
  PATH="$TMPDIR/s:$PATH" bash tools/deps.sh all 2> /dev/null
  grep -q '^apt-get update -qq$' "$TMPDIR/s/calls"
  grep -q '^apt-get install -y -qq --no-install-recommends build-essential pkg-config .* lld .*libclang-rt-14-dev strace$' "$TMPDIR/s/calls"
  not grep -q 'libcriterion-dev' "$TMPDIR/s/calls" # installed already: not asked for
  not grep -q '^sudo' "$TMPDIR/s/calls"
}

# npm ci exactly when node_modules is missing or stale against package-lock.json
_t_bootstrap_npm_ci_only_when_the_lock_changes() {
  shims "$TMPDIR/s"
  printf '#!/bin/sh\necho "npm $*" >> "%s/calls"\nmkdir -p node_modules\necho "{\\"packages\\":{}}" > node_modules/.package-lock.json\n' "$TMPDIR/s" > "$TMPDIR/s/npm"
  chmod +x "$TMPDIR/s/npm"
  mkdir -p "$TMPDIR/r/tools"
  cp tools/npm-deps.sh "$TMPDIR/r/tools/"
  echo '{"packages":{"":{},"node_modules/a":{"version":"1.0.0"}}}' > "$TMPDIR/r/package-lock.json"
  PATH="$TMPDIR/s:$PATH" bash "$TMPDIR/r/tools/npm-deps.sh" 2> /dev/null
  [ "$(cat "$TMPDIR/s/calls")" = "npm ci --no-audit --no-fund --onnxruntime-node-install=skip" ]
  PATH="$TMPDIR/s:$PATH" bash "$TMPDIR/r/tools/npm-deps.sh"
  [ "$(wc -l < "$TMPDIR/s/calls")" = 1 ] # the stamp matches: nothing run
  echo '{"packages":{"":{},"node_modules/a":{"version":"1.0.1"}}}' > "$TMPDIR/r/package-lock.json"
  PATH="$TMPDIR/s:$PATH" bash "$TMPDIR/r/tools/npm-deps.sh" 2> /dev/null
  [ "$(wc -l < "$TMPDIR/s/calls")" = 2 ] # a new lock: installed again
  # an install that already satisfies a new lock is adopted without npm
  echo '{"packages":{"node_modules/a":{"version":"2.0.0"}}}' > "$TMPDIR/r/node_modules/.package-lock.json"
  echo '{"packages":{"":{},"node_modules/a":{"version":"2.0.0"}}}' > "$TMPDIR/r/package-lock.json"
  PATH="$TMPDIR/s:$PATH" bash "$TMPDIR/r/tools/npm-deps.sh"
  [ "$(wc -l < "$TMPDIR/s/calls")" = 2 ]
}

# the Makefile reads pkg-config when parsed: on a machine without it, demo must still start
# with the bootstrap (and say nothing about pkg-config)
_t_bootstrap_make_parses_without_pkg_config() {
  mkdir -p "$TMPDIR/p"
  for f in /usr/bin/* /bin/*; do
    b=$(basename "$f")
    case "$b" in pkg-config|*-pkg-config*|pkgconf) continue ;; esac
    [ -e "$TMPDIR/p/$b" ] || ln -s "$f" "$TMPDIR/p/$b"
  done
  PATH="$TMPDIR/p" env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD -u BIN make -n --no-print-directory demo > "$TMPDIR/n.txt" 2> "$TMPDIR/n.err" || true
  [ "$(head -1 "$TMPDIR/n.txt")" = "bash tools/deps.sh build" ]
  not grep -qi 'pkg-config' "$TMPDIR/n.err"
}

t_quantize_bytes_unchanged_by_the_fast_kernels() { strict_fns _t_quantize_bytes_unchanged_by_the_fast_kernels; }
t_progress_bar_on_a_terminal_build_quantize_verify() { strict_fns _t_progress_bar_on_a_terminal_build_quantize_verify; }
t_progress_bar_export_onnx_and_ort() { strict_fns _t_progress_bar_export_onnx_and_ort; }
t_progress_silent_when_quiet_or_not_a_terminal() { strict_fns _t_progress_silent_when_quiet_or_not_a_terminal; }
t_bootstrap_installs_nothing_when_everything_is_present() { strict_fns _t_bootstrap_installs_nothing_when_everything_is_present; : make demo runs chromium; }
t_bootstrap_missing_debs_without_root_or_sudo_one_line() { strict_fns _t_bootstrap_missing_debs_without_root_or_sudo_one_line; }
t_bootstrap_missing_debs_as_root_runs_apt() { strict_fns _t_bootstrap_missing_debs_as_root_runs_apt; }
t_bootstrap_npm_ci_only_when_the_lock_changes() { strict_fns _t_bootstrap_npm_ci_only_when_the_lock_changes; }
t_bootstrap_make_parses_without_pkg_config() { strict_fns _t_bootstrap_make_parses_without_pkg_config; }
