# SPDX-License-Identifier: LGPL-2.1-only
# libxlmig: top-level, non-recursive Makefile.
#
#   make                 library (static + shared), tools, pkg-config file
#   make check           install deps, unit tests under ASan+UBSan, fuzz smoke
#   make check-xen       end-to-end tests in the nested Xen test host
#   make bench           benchmarks
#   make demo            boot the test host and show a live migration
#   make man             the man pages, in $(B)/man/ (pandoc)
#   make install         PREFIX=/usr/local DESTDIR=
#   make deb             Debian packages in $(B)/deb/ (make check-deb: test)
#
# Objects go to $(B)/ (git-ignored).  The sanitizer build lives in
# $(B)/san/ so that `make check` never mixes instrumented and plain code.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR    ?= $(PREFIX)/share
COMPLETIONDIR ?= $(DATADIR)/bash-completion/completions
MANDIR     ?= $(PREFIX)/share/man
DESTDIR    ?=
B          ?= build

# `make V=1` shows whole command lines.
V ?= 0
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-7s %s\n' $(1) $(2)
endif

CC      ?= cc
CLANG   ?= clang
SONAME_MAJOR := 0
VERSION := $(shell sed -n 's/^\#define LIBXLMIG_VERSION_STRING "\(.*\)"/\1/p' libxlmig/libxlmig.h)

XEN_PKGS := xenlight xencontrol xenguest xentoollog yajl zlib libzstd liblz4 \
            libxxhash libssl libcrypto libnbd libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(XEN_PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(XEN_PKGS) 2>/dev/null) -pthread
# The libxl the tools are built against, for their --version.
LIBXL_VERSION := $(shell pkg-config --modversion xenlight 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-missing-field-initializers
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -fPIC -pthread $(WARN) -Ilibxlmig \
               -Ixe-plugin $(PKG_CFLAGS) $(if $(LIBXL_VERSION), \
               -DXLMIG__XENLIGHT_VERSION='"$(LIBXL_VERSION)"')
CFLAGS   ?= -O2 -g
# CPPFLAGS: e.g. dpkg-buildflags' -D_FORTIFY_SOURCE=2 in a package build.
CPPFLAGS ?=
ALL_CFLAGS := $(CPPFLAGS) $(BASE_CFLAGS) $(CFLAGS) -fvisibility=hidden \
              -DLIBXLMIG_BUILDING
LDFLAGS  ?=
ALL_LDFLAGS := -Wl,--as-needed -Wl,-z,relro -Wl,-z,now $(LDFLAGS)

SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
             -fno-omit-frame-pointer
SAN_CFLAGS := $(BASE_CFLAGS) -O1 -g $(SAN_FLAGS) -DLIBXLMIG_BUILDING

LIB_SRCS := $(wildcard libxlmig/*.c)
XE_SRCS  := xe-plugin/xe-args.c
# The commands: only in xlmig-xe (they need its xe_print_record).
XE_CMD_SRCS := xe-plugin/cmd-batch.c xe-plugin/cmd-cpu.c \
               xe-plugin/cmd-pool.c xe-plugin/cmd-rolling.c \
               xe-plugin/cmd-sr.c xe-plugin/cmd-vm.c xe-plugin/xe-complete.c
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)
XE_OBJS  := $(XE_SRCS:%.c=$(B)/%.o)

TEST_SRCS := $(wildcard tests/unit/test-*.c)
TESTS     := $(TEST_SRCS:tests/unit/%.c=$(B)/san/tests/%)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz-*.c)
FUZZERS   := $(FUZZ_SRCS:tests/fuzz/%.c=$(B)/fuzz/%)
FUZZ_SECONDS ?= 8

# Xen's public headers (xenctrl.h and below) use anonymous unions, a GNU
# extension: the files that include them are built as gnu11, all others
# as strict C11.
XEN_HDR_OBJS := $(B)/libxlmig/xen.o $(B)/san/libxlmig/xen.o \
                $(B)/libxlmig/hv-libxl.o $(B)/san/libxlmig/hv-libxl.o \
                $(B)/libxlmig/uuid.o $(B)/san/libxlmig/uuid.o
$(XEN_HDR_OBJS): XEN_STD := -std=gnu11

SHLIB := $(B)/libxlmig.so.$(VERSION)
TOOLS := $(B)/xlmig $(B)/xlmig-xe $(B)/xlmigd
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
# Where xlmigd and the pool commands look for their configuration
# (XLMIG__POOLCONF_DEFAULT in libxlmig/poolconf.h): fixed, not PREFIX's.
CONFDIR := /etc/xlmig

.PHONY: check-vm-migrate bench-xen all deps check check-unit check-fuzz check-integration check-xen \
        bench demo install uninstall clean fuzz format man deb check-deb

all: $(B)/libxlmig.a $(SHLIB) $(TOOLS) $(B)/libxlmig.pc

deps:
	@scripts/install-deps.sh

# ---------------------------------------------------------------- library
$(B)/%.o: %.c $(wildcard libxlmig/*.h xe-plugin/*.h)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(XEN_STD) -c $< -o $@

$(B)/libxlmig.a: $(LIB_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(SHLIB): $(LIB_OBJS)
	$(call say,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,libxlmig.so.$(SONAME_MAJOR) $(ALL_LDFLAGS) \
	    -o $@ $^ $(PKG_LIBS)
	ln -sf libxlmig.so.$(VERSION) $(B)/libxlmig.so.$(SONAME_MAJOR)
	ln -sf libxlmig.so.$(SONAME_MAJOR) $(B)/libxlmig.so

$(B)/libxlmig.pc: libxlmig/libxlmig.pc.in libxlmig/libxlmig.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@REQUIRES@|$(XEN_PKGS)|' $< > $@

# The tools link the static library: they use the internal tier
# (xlmig__*), which the shared library does not export.
$(B)/xlmig: $(B)/tools/xlmig.o $(B)/tools/cmd-channel.o $(B)/tools/cmd-slot.o \
            $(B)/tools/cmd-sxm.o $(B)/tools/cmd-diskstream.o $(B)/libxlmig.a
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

XLMIGD_SRCS := tools/xlmigd.c tools/xlmigd-vm.c tools/xlmigd-worker.c \
               tools/xlmigd-upgrade.c tools/xlmigd-systemd.c

$(B)/xlmigd: $(XLMIGD_SRCS:%.c=$(B)/%.o) $(B)/libxlmig.a
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/san/xlmigd: $(XLMIGD_SRCS:%.c=$(B)/san/%.o) $(B)/san/libxlmig.a
	$(call say,LD,$@)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

# The daemon of the tests: the same, on the stand-in hypervisor
# (tests/tools/fake-xen.c) instead of libxl.
$(B)/san/tools/xlmigd-fake.o: tools/xlmigd.c $(wildcard libxlmig/*.h tools/*.h)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(SAN_CFLAGS) -DXLMIGD_FAKE_XEN -c $< -o $@

$(B)/san/tests/tools/fake-xen-ops.o: tests/tools/fake-xen.c \
                                     $(wildcard libxlmig/*.h tests/tools/*.c)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(SAN_CFLAGS) -std=gnu11 -DFAKE_XEN_NO_MAIN -Itests/tools \
	    -c $< -o $@

$(B)/san/xlmigd-fake: $(B)/san/tools/xlmigd-fake.o $(B)/san/tools/xlmigd-vm.o \
                      $(B)/san/tools/xlmigd-worker.o \
                      $(B)/san/tools/xlmigd-upgrade.o \
                      $(B)/san/tools/xlmigd-systemd.o \
                      $(B)/san/tests/tools/fake-xen-ops.o $(B)/san/libxlmig.a
	$(call say,LD,$@)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/xlmig-xe: $(B)/xe-plugin/xlmig-xe.o $(XE_CMD_SRCS:%.c=$(B)/%.o) \
               $(XE_OBJS) $(B)/libxlmig.a
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/tools/xlmig.o $(B)/tools/cmd-channel.o $(B)/san/tools/xlmig.o \
    $(B)/san/tools/cmd-channel.o: tools/cmd-channel.h
$(B)/tools/xlmig.o $(B)/tools/cmd-slot.o $(B)/san/tools/xlmig.o \
    $(B)/san/tools/cmd-slot.o: tools/cmd-slot.h
$(B)/tools/xlmig.o $(B)/tools/cmd-sxm.o $(B)/san/tools/xlmig.o \
    $(B)/san/tools/cmd-sxm.o: tools/cmd-sxm.h
$(B)/tools/xlmig.o $(B)/tools/cmd-diskstream.o $(B)/san/tools/xlmig.o \
    $(B)/san/tools/cmd-diskstream.o: tools/cmd-diskstream.h
$(XLMIGD_SRCS:%.c=$(B)/%.o) $(XLMIGD_SRCS:%.c=$(B)/san/%.o): tools/xlmigd.h
$(B)/tools/xlmigd.o $(B)/tools/xlmigd-systemd.o $(B)/san/tools/xlmigd.o \
    $(B)/san/tools/xlmigd-systemd.o $(B)/san/tools/xlmigd-fake.o: \
    tools/xlmigd-systemd.h

# ---------------------------------------------------------------- man pages
# One Markdown source each in docs/man/; the commands and options come
# from the programs' own tables (`PROGRAM --man`), as their --help does.
MAN_PAGES := $(B)/man/xlmig.1 $(B)/man/xlmig-xe.1 $(B)/man/xlmigd.8 \
             $(B)/man/xlmigd.conf.5

man: $(MAN_PAGES)

$(B)/man/xlmig.1: $(B)/xlmig
$(B)/man/xlmig-xe.1: $(B)/xlmig-xe
$(B)/man/xlmigd.8: $(B)/xlmigd
$(B)/man/%: docs/man/%.md scripts/man-page.sh libxlmig/libxlmig.h
	@mkdir -p $(dir $@)
	$(call say,MAN,$@)
	$(Q)scripts/man-page.sh $< $@ $(VERSION) \
	    $(if $(filter-out %.5,$@),$(filter $(TOOLS),$^) --man)

# ---------------------------------------------------------------- tests
$(B)/san/%.o: %.c $(wildcard libxlmig/*.h xe-plugin/*.h tests/unit/*.h tests/tools/*.c)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(SAN_CFLAGS) $(XEN_STD) -Itests/unit -c $< -o $@

$(B)/san/libxlmig.a: $(LIB_SRCS:%.c=$(B)/san/%.o) $(XE_SRCS:%.c=$(B)/san/%.o)
	$(call say,AR,$@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(B)/san/xlmig: $(B)/san/tools/xlmig.o $(B)/san/tools/cmd-channel.o \
                $(B)/san/tools/cmd-slot.o $(B)/san/tools/cmd-sxm.o \
                $(B)/san/tools/cmd-diskstream.o $(B)/san/libxlmig.a
	$(call say,LD,$@)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/san/xlmig-xe: $(B)/san/xe-plugin/xlmig-xe.o \
                   $(XE_CMD_SRCS:%.c=$(B)/san/%.o) $(B)/san/libxlmig.a
	$(call say,LD,$@)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/san/tests/%: $(B)/san/tests/unit/%.o $(B)/san/libxlmig.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka

# Helper programs of the tests and benchmarks (stream generator, ...).
TOOL_SRCS := $(wildcard tests/tools/*.c)
TEST_TOOLS := $(TOOL_SRCS:tests/tools/%.c=$(B)/tests/tools/%)

$(B)/tests/tools/%: $(B)/tests/tools/%.o $(B)/libxlmig.a
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

check: deps
	@$(MAKE) --no-print-directory all man $(TESTS) $(B)/san/xlmig \
	    $(B)/san/xlmig-xe $(B)/san/xlmigd $(B)/san/xlmigd-fake $(FUZZERS) \
	    $(TEST_TOOLS)
	@tests/summarize.sh check "$(MAKE) --no-print-directory check-unit" \
	    "$(MAKE) --no-print-directory check-fuzz" \
	    "$(MAKE) --no-print-directory check-integration" \
	    "tests/install-test.sh"

# Every runner prints cmocka's summary; run-tests.sh adds one line for all.
check-unit: $(TESTS) $(B)/san/xlmig $(B)/san/xlmig-xe $(TEST_TOOLS)
	@XLMIG_BIN=$(B)/san/xlmig XLMIG_XE_BIN=$(B)/san/xlmig-xe \
	    XLMIG_SRCDIR=$(CURDIR) XLMIG_BUILDDIR=$(CURDIR)/$(B) \
	    tests/run-tests.sh $(TESTS)

# End-to-end runs of the CLIs on 127.0.0.1 (tests/integration/test-*.sh).
check-integration: $(B)/san/xlmig $(B)/san/xlmig-xe $(B)/san/xlmigd \
                   $(B)/san/xlmigd-fake $(TEST_TOOLS) $(MAN_PAGES)
	@XLMIG_BIN=$(CURDIR)/$(B)/san/xlmig \
	    XLMIG_XE_BIN=$(CURDIR)/$(B)/san/xlmig-xe \
	    XLMIGD_BIN=$(CURDIR)/$(B)/san/xlmigd XLMIG_SRCDIR=$(CURDIR) \
	    XLMIG_BUILDDIR=$(CURDIR)/$(B) tests/integration/run.sh

# Every section of the vm-migrate integration test on the stand-in
# hypervisor (make check runs those the nested hosts cannot show).
check-vm-migrate: $(B)/san/xlmig-xe $(B)/san/xlmigd-fake $(TEST_TOOLS)
	@VMM_ONLY=all XLMIG_XE_BIN=$(CURDIR)/$(B)/san/xlmig-xe \
	    XLMIG_SRCDIR=$(CURDIR) XLMIG_BUILDDIR=$(CURDIR)/$(B) \
	    bash tests/integration/test-vm-migrate.sh

# ---------------------------------------------------------------- fuzzing
FUZZ_CFLAGS := $(BASE_CFLAGS) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
               -DLIBXLMIG_BUILDING

# The library is compiled once for all targets (coverage, sanitizers);
# each target links its harness against those objects.
FUZZ_OBJ_CFLAGS := $(BASE_CFLAGS) -std=gnu11 -g -O1 \
                   -fsanitize=fuzzer-no-link,address,undefined -DLIBXLMIG_BUILDING
FUZZ_OBJS := $(patsubst %.c,$(B)/fuzz-obj/%.o,$(LIB_SRCS) $(XE_SRCS))

$(B)/fuzz-obj/%.o: %.c $(wildcard libxlmig/*.h xe-plugin/*.h)
	@mkdir -p $(dir $@)
	$(call say,FUZZCC,$@)
	$(Q)$(CLANG) $(FUZZ_OBJ_CFLAGS) -c -o $@ $<

$(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS) tests/tools/nbd-writer.c \
             $(wildcard libxlmig/*.h xe-plugin/*.h)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_OBJS) $(PKG_LIBS)

fuzz: $(FUZZERS)

# A bounded run of each fuzz target from its seed corpus.
check-fuzz: $(FUZZERS)
	@tests/fuzz/run-fuzzers.sh $(FUZZ_SECONDS) $(FUZZERS)

# ---------------------------------------------------------------- xen host
# Our binaries, installed into the tree that becomes part of dom0's root.
$(B)/dom0-root/.stamp: all
	rm -rf $(B)/dom0-root
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/$(B)/dom0-root \
	    PREFIX=/usr/local
	touch $@

# The vm-migrate cases on the nested hosts (tests/xenhost/tests/
# vm-migrate.sh): all, or some, e.g. VMM_CASES=pool,kill-dst.
VMM_CASES ?= all
# Seconds the vm-migrate cases may take on the nested hosts in all.
VMM_TIMEOUT ?= 3600
# Seconds check-xen.sh's run may take, building the image included: on a
# fresh checkout the image alone takes about 3 minutes, the tests 10 to
# 12, and a case a guest's triple fault spoils is run again (1 to 3
# minutes each; tests/xenhost/README.md, "Known limits").
CHECK_XEN_TIMEOUT ?= 1500

check-xen: deps
	@$(MAKE) --no-print-directory $(B)/dom0-root/.stamp
	tests/xenhost/run.sh --hosts 2 --overlay $(B)/dom0-root \
	    --timeout $(CHECK_XEN_TIMEOUT) --test tests/xenhost/tests/check-xen.sh \
	    --test2 tests/xenhost/tests/receiver.sh
	@printf '#!/bin/sh\nVMM_ONLY=%s\n. /xenhost/vm-migrate.sh\n' \
	    "$(filter-out all,$(VMM_CASES))" > $(B)/vm-migrate-cases.sh
	tests/xenhost/run.sh --hosts 2 --overlay $(B)/dom0-root --timeout $(VMM_TIMEOUT) \
	    --test $(B)/vm-migrate-cases.sh --test2 $(B)/vm-migrate-cases.sh

demo: deps
	@$(MAKE) --no-print-directory $(B)/dom0-root/.stamp
	scripts/demo.sh --overlay $(B)/dom0-root

# ---------------------------------------------------------------- bench
BENCH_SRCS := $(wildcard tests/bench/bench-*.c)
BENCHES    := $(BENCH_SRCS:tests/bench/%.c=$(B)/bench/%)

$(B)/bench/%: $(B)/tests/bench/%.o $(B)/libxlmig.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

bench: deps
	@$(MAKE) --no-print-directory all $(BENCHES) $(TEST_TOOLS)
	@B=$(B) tests/bench/run-bench.sh
	@$(MAKE) --no-print-directory bench-xen

# On the nested Xen hosts: vm-migrate (compressed and not) against xl
# migrate of the same guest; the BENCH lines and the result.
bench-xen: deps
	@$(MAKE) --no-print-directory $(B)/dom0-root/.stamp
	@tests/xenhost/run.sh --hosts 2 --overlay $(B)/dom0-root --timeout 1800 \
	    --test tests/xenhost/tests/bench.sh \
	    --test2 tests/xenhost/tests/bench.sh > $(B)/bench-xen.log 2>&1; \
	    rc=$$?; grep -a 'BENCH\|RESULT vmm-bench\|^xenhost:' $(B)/bench-xen.log; \
	    echo "bench-xen: the whole log is $(B)/bench-xen.log"; exit $$rc

# ---------------------------------------------------------------- install
# systemd units (tools/, @BINDIR@ in them replaced at install).
UNITS := xlmigd.service xlmig-channel-listen@.service

install: all man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
	    $(DESTDIR)$(INCLUDEDIR)
	install -m 0755 $(TOOLS) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(B)/libxlmig.a $(DESTDIR)$(LIBDIR)/
	install -m 0755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf libxlmig.so.$(VERSION) \
	    $(DESTDIR)$(LIBDIR)/libxlmig.so.$(SONAME_MAJOR)
	ln -sf libxlmig.so.$(SONAME_MAJOR) $(DESTDIR)$(LIBDIR)/libxlmig.so
	install -m 0644 libxlmig/libxlmig.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 0644 $(B)/libxlmig.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -d $(DESTDIR)$(SYSTEMDDIR)
	sed 's|@BINDIR@|$(BINDIR)|' tools/xlmig-channel-listen@.service > \
	    $(DESTDIR)$(SYSTEMDDIR)/xlmig-channel-listen@.service
	sed 's|@BINDIR@|$(BINDIR)|' tools/xlmigd.service > \
	    $(DESTDIR)$(SYSTEMDDIR)/xlmigd.service
	install -d $(DESTDIR)$(COMPLETIONDIR)
	install -m 0644 tools/completion/xlmig $(DESTDIR)$(COMPLETIONDIR)/xlmig
	ln -sf xlmig $(DESTDIR)$(COMPLETIONDIR)/xlmig-xe
	install -d $(DESTDIR)$(CONFDIR)
	@if [ -e $(DESTDIR)$(CONFDIR)/xlmigd.conf ]; then \
	    echo "$(DESTDIR)$(CONFDIR)/xlmigd.conf: kept (the default is" \
	        "etc/xlmigd.conf)"; \
	else \
	    echo install -m 0644 etc/xlmigd.conf \
	        $(DESTDIR)$(CONFDIR)/xlmigd.conf; \
	    install -m 0644 etc/xlmigd.conf $(DESTDIR)$(CONFDIR)/xlmigd.conf; \
	fi
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(B)/man/xlmig.1 $(B)/man/xlmig-xe.1 \
	    $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(B)/man/xlmigd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(B)/man/xlmigd.8 $(DESTDIR)$(MANDIR)/man8/

# The configuration ($(CONFDIR)/xlmigd.conf) stays: it is the host's.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,xlmig xlmig-xe xlmigd) \
	    $(addprefix $(DESTDIR)$(SYSTEMDDIR)/,$(UNITS)) \
	    $(DESTDIR)$(LIBDIR)/libxlmig.a $(DESTDIR)$(LIBDIR)/libxlmig.so* \
	    $(DESTDIR)$(INCLUDEDIR)/libxlmig.h \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/libxlmig.pc \
	    $(addprefix $(DESTDIR)$(COMPLETIONDIR)/,xlmig xlmig-xe) \
	    $(addprefix $(DESTDIR)$(MANDIR)/,man1/xlmig.1 man1/xlmig-xe.1 \
	                                     man5/xlmigd.conf.5 man8/xlmigd.8)

# ---------------------------------------------------------------- debian
# make deb: the Debian packages (debian/) built by dpkg-buildpackage
# from a copy of the files git tracks or would track (not build/, .cache/) in
# $(B)/deb/libxlmig-VERSION/; the .debs land in $(B)/deb/.  Its build
# dependencies are debian/control's; it installs nothing (no deps).
# DEB_BUILD_OPTIONS=nocheck skips the package build's short tests.
DEB_DIR  := $(B)/deb
DEB_SRCS := $(wildcard $(shell git ls-files -co --exclude-standard 2>/dev/null))
DEB_JOBS ?= 2

deb: $(DEB_DIR)/.stamp

$(DEB_DIR)/.stamp: $(DEB_SRCS)
	@v=$$(dpkg-parsechangelog -S Version); [ "$$v" = "$(VERSION)" ] || \
	    { echo "deb: debian/changelog says $$v, libxlmig.h $(VERSION)"; \
	      exit 1; }
	@[ -n "$(DEB_SRCS)" ] || { echo "deb: needs a git checkout"; exit 1; }
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/libxlmig-$(VERSION)
	git ls-files -z -co --exclude-standard | tar -c --ignore-failed-read --null -T - -f - | \
	    tar -x -C $(DEB_DIR)/libxlmig-$(VERSION) -f -
	cd $(DEB_DIR)/libxlmig-$(VERSION) && \
	    dpkg-buildpackage -us -uc -b -j$(DEB_JOBS)
	@ls $(DEB_DIR)/*.deb
	touch $@

# make check-deb (as root): the .debs installed with apt into a clean
# Debian 12 root (debootstrap, cached in .cache/deb-root), the tools run
# there, the units verified, lintian; "check-deb: N passed, N failed".
check-deb: deps $(DEB_DIR)/.stamp
	@tests/deb-test.sh $(DEB_DIR)

format:
	clang-format -i libxlmig/*.[ch] tools/*.c xe-plugin/*.[ch] \
	    tests/unit/*.[ch] tests/fuzz/*.c

clean:
	rm -rf $(B)

# Keep intermediate objects (tests, benches) so rebuilds stay incremental.
.SECONDARY:
