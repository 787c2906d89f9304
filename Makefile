# wgpack — top-level Makefile (the only build system).
#   make            build ./wgpack
#   make demo       builds, verifies and runs the default model } on a bare machine these two first
#   make check      every test; ends with "N passed, N failed" } install what is missing (bootstrap)
#   make asan       build with AddressSanitizer + UBSan and run the suite's C paths (no browser)
#   make bench      benchmarks (ratios against cp in the same run, peak RSS)
#   make bench-large  build on a generated 7B-class checkpoint (13.5 GB; LAYERS=N smaller)
#   make deps       install the Debian packages the build and the tests need
#   make install PREFIX=/usr/local
CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
PKGS    := libprotobuf-c libzstd libarchive libxxhash jansson libcrypto sqlite3
CSTD    := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
WARN    := -Wall -Wextra -Werror -Wno-format-truncation -Wno-unknown-warning-option
OPT     ?= -O2 -g
# evaluated when the Makefile is read: on a bare machine (no pkg-config yet) these come out empty,
# which is why demo and check bootstrap first and then build in a second make that reads them anew
CFLAGS  += $(CSTD) $(WARN) $(OPT) -pthread -I$(BUILD)/gen $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -pthread
ONNX_PROTO ?= /usr/include/onnx/onnx.proto

# every .c of a module folder is part of it (a new file needs no Makefile edit)
SRC := $(sort $(wildcard formats/*.c quant/*.c verify/*.c pack/*.c program/*.c program/models/*.c))
CLI := $(sort $(wildcard convert/*.c))
GEN := $(BUILD)/gen/onnx.pb-c.c
OBJ := $(SRC:%.c=$(BUILD)/%.o) $(GEN:.c=.o) $(BUILD)/gen/wasm_blob.o $(BUILD)/gen/manifest_rules.o
CLIOBJ := $(CLI:%.c=$(BUILD)/%.o) $(BUILD)/gen/report_html.o
UNIT := $(wildcard tests/unit/test_*.c)

BIN     ?= wgpack
FUZZ_TARGETS := safetensors onnx json dequant
FUZZ_EXTRA := convert/plan_cli.c convert/cli.c convert/db.c convert/progress.c  # the recipe reader (fuzz_json); db: --costs; progress: cli_report ends the bar

all: $(BIN)

$(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h: $(ONNX_PROTO)
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=$(dir $(ONNX_PROTO)) --c_out=$(BUILD)/gen $(ONNX_PROTO)

# The WebAssembly fallback: the C reference dequantizer built for wasm32 (Debian's clang + lld,
# freestanding) and embedded in wgpack, which writes it into every bundle.
WASM_SRC := wasm/wasm_api.c quant/quant.c quant/half.c quant/formats.c
$(BUILD)/wgpack.wasm: $(WASM_SRC) $(wildcard wasm/include/*.h) quant/quant.h quant/quant_internal.h formats/model.h
	@mkdir -p $(BUILD)
	clang --target=wasm32 -O2 -std=c11 -nostdlib -ffreestanding -Iwasm/include -Wall -Werror \
	    -DWG_QUANT_REFERENCE_ONLY \
	    -Wno-unused-function -Wl,--no-entry -Wl,--allow-undefined -Wl,--export-dynamic -o $@ $(WASM_SRC)

$(BUILD)/bin2c: tools/bin2c.c
	@mkdir -p $(BUILD)
	$(CC) -O2 -o $@ $<

$(BUILD)/gen/wasm_blob.c: $(BUILD)/wgpack.wasm $(BUILD)/bin2c
	@mkdir -p $(BUILD)/gen
	$(BUILD)/bin2c wg_wasm_blob $< $@

$(BUILD)/gen/report_html.c: tools/report/report.html $(BUILD)/bin2c
	@mkdir -p $(BUILD)/gen
	$(BUILD)/bin2c wg_report_html $< $@

# the manifest rules the JS loader imports, embedded for pack/manifest_read.c (one definition)
$(BUILD)/gen/manifest_rules.c: tools/web/wgpack-manifest-rules.js $(BUILD)/bin2c
	@mkdir -p $(BUILD)/gen
	$(BUILD)/bin2c wg_manifest_rules_js $< $@

$(BUILD)/gen/manifest_rules.o: $(BUILD)/gen/manifest_rules.c
	$(CC) $(CSTD) $(OPT) -c $< -o $@

$(BUILD)/gen/report_html.o: $(BUILD)/gen/report_html.c
	$(CC) $(CSTD) $(OPT) -c $< -o $@

$(BUILD)/gen/wasm_blob.o: $(BUILD)/gen/wasm_blob.c
	$(CC) $(CSTD) $(OPT) -c $< -o $@

$(BUILD)/gen/onnx.pb-c.o: $(BUILD)/gen/onnx.pb-c.c
	$(CC) $(CSTD) $(OPT) -I$(BUILD)/gen $(shell pkg-config --cflags libprotobuf-c 2>/dev/null) -c $< -o $@

$(BUILD)/%.o: %.c $(BUILD)/gen/onnx.pb-c.h $(wildcard */*.h */*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libwgpack.a: $(OBJ)
	rm -f $@ && ar rcs $@ $^

$(BIN): $(CLIOBJ) $(BUILD)/libwgpack.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit: $(UNIT) $(BUILD)/libwgpack.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(UNIT) $(BUILD)/libwgpack.a $(LDLIBS) -lcriterion

$(BUILD)/mkfixtures: tools/mkfixtures.c $(BUILD)/libwgpack.a
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libwgpack.a $(LDLIBS)

# ---- bootstrap: what `make demo` and `make check` need on a bare machine, installed only when
# missing (tools/deps.sh: Debian packages; tools/npm-deps.sh: node_modules against
# package-lock.json, by a stamp), then the build in a second make, which reads pkg-config anew.
bootstrap-build:
	@bash tools/deps.sh build
bootstrap:
	@bash tools/deps.sh all
	@bash tools/npm-deps.sh

REPLAY = $(FUZZ_TARGETS:%=$(BUILD)/replay_%)
check: bootstrap
	@$(MAKE) --no-print-directory $(BIN) $(BUILD)/tests/unit $(BUILD)/mkfixtures $(REPLAY)
	@WGPACK=$(CURDIR)/wgpack BUILD=$(CURDIR)/$(BUILD) bash tests/run

ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan: bootstrap
	$(MAKE) BUILD=build-asan BIN=build-asan/wgpack OPT="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
	    build-asan/wgpack build-asan/tests/unit build-asan/mkfixtures \
	    $(FUZZ_TARGETS:%=build-asan/replay_%)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    WG_NO_BROWSER=1 WGPACK=$(CURDIR)/build-asan/wgpack BUILD=$(CURDIR)/build-asan bash tests/run

# libFuzzer targets (clang): make fuzz FUZZ_SECONDS=N runs each for N seconds
FUZZ_SECONDS ?= 60
FUZZ_OPT := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
fuzz: wgpack
	$(MAKE) BUILD=build-fuzz CC=clang BIN=build-fuzz/wgpack OPT="$(FUZZ_OPT)" build-fuzz/libwgpack.a build-fuzz/mkfixtures
	for t in $(FUZZ_TARGETS); do \
	  clang $(CSTD) -O1 -g -fsanitize=fuzzer,address,undefined -Ibuild-fuzz/gen $(shell pkg-config --cflags jansson) \
	    -o build-fuzz/fuzz_$$t tests/fuzz/fuzz_$$t.c $(FUZZ_EXTRA) build-fuzz/libwgpack.a $(LDLIBS) || exit 1; done
	bash tools/fuzz.sh $(FUZZ_SECONDS)

# the CLI under a mutation loop over real models and manifests (tools/mutate.py), ASan + UBSan
MUTATE_SECONDS ?= 60
mutate:
	$(MAKE) BUILD=build-asan BIN=build-asan/wgpack OPT="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" build-asan/wgpack
	python3 tools/mutate.py --seconds $(MUTATE_SECONDS) --wgpack build-asan/wgpack

# the same targets without libFuzzer, replaying the regression files and seeds (make check)
$(BUILD)/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c $(FUZZ_EXTRA) $(BUILD)/libwgpack.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench: bootstrap
	@$(MAKE) --no-print-directory $(BIN) $(BUILD)/mkbench
	ROUNDS=$(ROUNDS) bash tools/bench.sh

# build on a 7B-class checkpoint (13.5 GB, generated once); LAYERS=N for a smaller one
LAYERS ?= 32
ROUNDS ?= 3
bench-large: bootstrap
	@$(MAKE) --no-print-directory $(BIN) $(BUILD)/mkbench
	LAYERS=$(LAYERS) bash tools/bench_large.sh

# GEMV/GEMM speed on the WebGPU adapter at hand (a real GPU: see tools/webgpu/h100.sh)
bench-gpu: wgpack
	WGPACK=$(CURDIR)/wgpack node tools/webgpu/bench_gpu.mjs

# the default model with its byte tokenizer (tests/text/bytes), built, verified, then run in
# headless Chromium (WebGPU on SwiftShader) against the C reference, printing the generated text
DEMO_PROMPT ?= def fib(n):
demo: bootstrap-build
	@bash tools/deps.sh run
	@bash tools/npm-deps.sh
	@$(MAKE) --no-print-directory $(BIN)
	./wgpack build models/tinyllama -o out/tinyllama --preset mixed --compress zstd --tokenizer tests/text/bytes --force
	./wgpack verify-bundle out/tinyllama
	@mkdir -p -m 700 out/.xdg
	XDG_RUNTIME_DIR=$${XDG_RUNTIME_DIR:-$(CURDIR)/out/.xdg} VK_ICD_FILENAMES=$${VK_ICD_FILENAMES:-/usr/lib/chromium/vk_swiftshader_icd.json} \
	  ./wgpack run out/tinyllama --prompt '$(DEMO_PROMPT)' --generate 32

deps:
	bash tools/deps.sh all

install: wgpack
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 wgpack $(DESTDIR)$(PREFIX)/bin/wgpack
	install -m 644 doc/wgpack.1 $(DESTDIR)$(PREFIX)/share/man/man1/wgpack.1
	install -d $(DESTDIR)$(PREFIX)/share/wgpack/ort
	install -m 644 tools/ort/run.mjs $(DESTDIR)$(PREFIX)/share/wgpack/ort/run.mjs

clean:
	rm -rf build build-asan build-fuzz build-mutate wgpack

.PHONY: all check asan bench bench-large bench-gpu demo deps bootstrap bootstrap-build install clean fuzz mutate

$(BUILD)/mkbench: tools/mkbench.c $(BUILD)/libwgpack.a
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libwgpack.a $(LDLIBS)

# the quantizer's inner loops are worth full vectorisation
# -fno-trapping-math only gives up FP exception flags (results are unchanged); it lets the
# compiler turn the clamps into vector blends
$(BUILD)/quant/quant.o $(BUILD)/quant/fp.o $(BUILD)/quant/simd.o: OPT += -O3 -fno-trapping-math -fno-math-errno
# simd.c must repeat the reference's float operations exactly: never fuse a*b+c into an FMA
# (the AVX2 variant could); its 8-lane vector types change no ABI (all of them stay inside)
$(BUILD)/quant/simd.o: OPT += -ffp-contract=off -Wno-psabi
