# etlkit - see README.md.  `make`, `make check`, `make check-asan`, `make bench`.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/etlkit
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
VERSION := 0.1.0

PKGS   := libpq librabbitmq libcurl uuid libcrypto
WARN   := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wvla \
          -Wwrite-strings -Wformat=2 -Wshadow -fno-common
ifneq ($(SANITIZE),)
SAN    := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
OPT    := -O1 -g
# Leaks fail the run; a sanitizer report exits 86 so tests can tell it apart.
export ASAN_OPTIONS ?= detect_leaks=1:exitcode=86:abort_on_error=0
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1:exitcode=86
export LSAN_OPTIONS ?= exitcode=86
else
OPT    ?= -O2 -g
endif
# pkg-config is asked when the first recipe needs the flags, not when this file
# is read: on a fresh machine `make demo` and `make check` install pkg-config and
# the libraries (deps) in the same invocation, before anything compiles.  Each
# answer is kept once found.
pkg_flags = $(shell pkg-config $(1) $(PKGS) 2>/dev/null)$(if $(filter 0,$(.SHELLSTATUS)),,\
	$(error pkg-config cannot find $(PKGS): run 'make deps' (as root) to install them))
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(call pkg_flags,--cflags))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $$(call pkg_flags,--libs))$(PKG_LIBS)
JQ_LIBS ?= $(eval JQ_LIBS := $$(shell pkg-config --libs libjq 2>/dev/null || echo -ljq))$(JQ_LIBS)
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	-DETL_VERSION='"$(VERSION)"' -DETL_DATADIR='"$(DATADIR)"' \
	-iquote lib $(OPT) $(WARN) $(SAN) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN) $(LDFLAGS)
ALL_LDLIBS = $(PKG_LIBS) $(JQ_LIBS) -lm $(LDLIBS)

PROGS  := etl-extract etl-transform etl-embed etl-job etl-reset etl-queue
LIBSRC := $(wildcard lib/*.c lib/*/*.c)
BENCHSRC := $(wildcard bench/*.c)
UNITSRC  := $(wildcard tests/unit/*.c)

# Sanitized objects live apart, so a sanitized build never mixes with (or
# forces a rebuild of) the normal one: bin/ and lib/libetl.a, or build-asan/.
ifneq ($(SANITIZE),)
OUT    := build-asan
BIN    := build-asan/bin
LIBA   := build-asan/libetl.a
else
OUT    := build
BIN    := bin
LIBA   := lib/libetl.a
endif
LIBOBJ := $(LIBSRC:%.c=$(OUT)/%.o)
UNITPROGS := $(UNITSRC:%.c=$(OUT)/%)
BENCHPROGS := $(BENCHSRC:%.c=$(OUT)/%)

# `make V=1` shows whole command lines.
ifeq ($(V),)
say = @echo "  $(1)	$(2)";
endif

all: $(PROGS:%=$(BIN)/%)

$(LIBA): $(LIBOBJ)
	$(call say,AR,$@)$(AR) rcs $@ $^

# Static pattern rules: objects are explicit prerequisites, never intermediate.
$(PROGS:%=$(BIN)/%): $(BIN)/%: $(OUT)/cmd/%.o $(LIBA)
	@mkdir -p $(@D)
	@# Programs find share/ beside their bin/, in build-asan/ as in the tree.
	@[ "$(BIN)" = bin ] || ln -sfn ../share $(OUT)/share
	$(call say,LINK,$@)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

$(UNITPROGS): $(OUT)/tests/unit/%: $(OUT)/tests/unit/%.o $(LIBA)
	$(call say,LINK,$@)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)
$(BENCHPROGS): $(OUT)/bench/%: $(OUT)/bench/%.o $(LIBA)
	$(call say,LINK,$@)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

# Goals that install what is missing first compile nothing before that, under -j too.
DEPS_FIRST := $(if $(filter deps check check-asan demo demo-queue,$(MAKECMDGOALS)),deps)
$(OUT)/%.o: %.c | $(DEPS_FIRST)
	@mkdir -p $(@D)
	$(call say,CC,$@)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# Which packages a fresh Debian 12 machine needs; apt-get is skipped when all are there.
DEB_PKGS := build-essential pkg-config libpq-dev librabbitmq-dev libcurl4-openssl-dev \
	libssl-dev libjq-dev uuid-dev postgresql-15 rabbitmq-server bats bats-support \
	bats-assert python3 jq curl groff-base procps iproute2
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" -ne 0 ]; then \
			echo "make deps: missing packages (run as root to install):" $$missing >&2; \
			exit 1; \
		fi; \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

units: $(UNITPROGS)

# Tests find the programs through ETL_BIN_DIR, so one suite serves both builds.
# Tests also use a benchmark baseline (a raw publisher), so build those too.
check: deps all units $(BENCHPROGS)
	@ETL_BIN_DIR=$(CURDIR)/$(BIN) ETL_UNIT_DIR=$(CURDIR)/$(OUT)/tests/unit \
		ETL_BENCH_DIR=$(CURDIR)/$(OUT)/bench tests/run $(TESTS)

check-asan:
	@$(MAKE) --no-print-directory SANITIZE=1 check

bench: all $(BENCHPROGS)
	@ETL_BIN_DIR=$(CURDIR)/$(BIN) ETL_BENCH_DIR=$(CURDIR)/$(OUT)/bench bench/run

demo: deps all
	@share/examples/demo.sh

demo-queue: deps all
	@share/examples/demo.sh --queue

lint-man:
	@for m in man/*.1; do groff -man -ww -z $$m || exit 1; done

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DATADIR)/sql \
		$(DESTDIR)$(DATADIR)/examples $(DESTDIR)$(BASHCOMPDIR)
	install -m 755 $(PROGS:%=bin/%) $(DESTDIR)$(BINDIR)
	install -m 644 man/*.1 $(DESTDIR)$(MANDIR)/man1
	install -m 644 share/sql/*.sql $(DESTDIR)$(DATADIR)/sql
	cp -R share/examples/. $(DESTDIR)$(DATADIR)/examples
	install -m 644 completions/etl.bash $(DESTDIR)$(BASHCOMPDIR)/etl-job
	for p in $(filter-out etl-job,$(PROGS)); do \
		ln -sf etl-job $(DESTDIR)$(BASHCOMPDIR)/$$p; done

clean:
	rm -rf bin build build-asan lib/libetl.a

.PHONY: all units deps check check-asan bench demo demo-queue lint-man install clean
-include $(shell find $(OUT) -name '*.d' 2>/dev/null)
