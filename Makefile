# kubec: one Makefile builds every component.
#
# Components are discovered, not listed: every .c in common/ goes into libkubec.a;
# each daemon directory D with a main.c builds one binary from D/*.c (its own objects
# also go into build/lib/libD.a so unit tests can link them); extra tools live in
# D/<tool>/ (e.g. store/storectl/) and link libD.a.  Unit suites are test/unit/test_*.c,
# one Check runner each; integration and e2e tests are test/{integration,e2e}/*.sh.

CC        ?= cc
SANITIZE  ?=
O         := build
PKGS      := libmicrohttpd gnutls libcurl libcjson openssl libprotobuf-c yaml-0.1 libnghttp2

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) check 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow \
            -Wmissing-prototypes -Wstrict-prototypes -fno-strict-aliasing \
            -D_GNU_SOURCE -pthread -MMD -MP -Icommon -I$(O)/gen $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lpthread -lm

# The control-plane daemons allocate and free a JSON tree per request and per watch event
# from several threads; glibc's malloc cost them a quarter of their CPU in the scheduler
# benchmark (arena locks, bin consolidation), and ~9 % of the store's per write.  They
# link jemalloc instead, with the options in common/malloc_conf.c; sanitizer builds keep
# the sanitizer's allocator.
JEMALLOC_BINS := kube-apiserver kube-scheduler kube-controller-manager kube-store

ifeq ($(SANITIZE),1)
O        := build-asan
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
JEMALLOC_BINS :=
endif

# ---------------------------------------------------------------------------
# protobuf-c: every *.proto under a component is compiled into $(O)/gen/<dir>/.
PROTOS    := $(shell find common store apiserver scheduler controller-manager kubelet proxy -name '*.proto' 2>/dev/null)
PROTO_C   := $(patsubst %.proto,$(O)/gen/%.pb-c.c,$(PROTOS))
PROTO_O   := $(PROTO_C:.c=.o)

$(O)/gen/%.pb-c.c $(O)/gen/%.pb-c.h: %.proto
	@mkdir -p $(O)/gen
	protoc-c --c_out=$(O)/gen $<

# ---------------------------------------------------------------------------
# common/ -> libkubec.a
COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(O)/%.o)
LIBKUBEC   := $(O)/lib/libkubec.a

# Daemons: directory -> binary name.
DAEMONS   := store:kube-store apiserver:kube-apiserver scheduler:kube-scheduler \
             controller-manager:kube-controller-manager kubelet:kubelet proxy:kube-proxy
# Tools: directory -> binary name (they link their parent's library).
TOOLS     := store/storectl:kube-storectl

dir_of  = $(word 1,$(subst :, ,$1))
bin_of  = $(word 2,$(subst :, ,$1))

BINS :=
COMP_LIBS :=
define daemon_rules
ifneq ($(wildcard $(call dir_of,$1)/main.c),)
$(call dir_of,$1)_SRC := $$(filter-out $(call dir_of,$1)/main.c,$$(wildcard $(call dir_of,$1)/*.c))
$(call dir_of,$1)_OBJ := $$($(call dir_of,$1)_SRC:%.c=$(O)/%.o) $$(filter $(O)/gen/$(call dir_of,$1)/%,$(PROTO_O))
$(O)/lib/lib$(call dir_of,$1).a: $$($(call dir_of,$1)_OBJ)
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^
$(O)/bin/$(call bin_of,$1): $(O)/$(call dir_of,$1)/main.o $(O)/lib/lib$(call dir_of,$1).a $(LIBKUBEC)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
BINS += $(O)/bin/$(call bin_of,$1)
COMP_LIBS += $(O)/lib/lib$(call dir_of,$1).a
endif
endef
$(foreach d,$(DAEMONS),$(eval $(call daemon_rules,$d)))
$(foreach b,$(JEMALLOC_BINS),$(eval $(O)/bin/$b: LDFLAGS += -Wl,-u,malloc_conf))
$(foreach b,$(JEMALLOC_BINS),$(eval $(O)/bin/$b: LDLIBS += -ljemalloc))

define tool_rules
ifneq ($(wildcard $(call dir_of,$1)/*.c),)
$(O)/bin/$(call bin_of,$1): $$(patsubst %.c,$(O)/%.o,$$(wildcard $(call dir_of,$1)/*.c)) $(O)/lib/lib$(firstword $(subst /, ,$(call dir_of,$1))).a $(LIBKUBEC)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
BINS += $(O)/bin/$(call bin_of,$1)
endif
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rules,$t)))

# ---------------------------------------------------------------------------
# Unit tests: one Check runner per test/unit/test_*.c, linked with every library.
UNIT_SRC  := $(wildcard test/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:test/unit/%.c=$(O)/test/%)
UNIT_HELPERS := $(filter-out $(UNIT_SRC),$(wildcard test/unit/*.c))
UNIT_HOBJ := $(UNIT_HELPERS:%.c=$(O)/%.o)

$(O)/test/%: $(O)/test/unit/%.o $(UNIT_HOBJ) $(COMP_LIBS) $(LIBKUBEC)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(UNIT_HOBJ) $(COMP_LIBS) $(LIBKUBEC) $(LDLIBS) $(CHECK_LIBS)

# ---------------------------------------------------------------------------
$(LIBKUBEC): $(COMMON_OBJ) $(filter $(O)/gen/common/%,$(PROTO_O))
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(O)/%.o: %.c | $(PROTO_C)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(O)/gen/%.pb-c.o: $(O)/gen/%.pb-c.c
	$(CC) $(filter-out -Werror -Wmissing-prototypes,$(CFLAGS)) -c -o $@ $<

.SECONDARY:

.PHONY: all deps test unit integration e2e test-lab asan fuzz bench up down clean
.DEFAULT_GOAL := all

all: $(LIBKUBEC) $(BINS) $(UNIT_BINS)

deps:
	@./test/scripts/deps.sh

# make test: every tier that exists.  Each runner prints its own summary.
test: all
	@./test/scripts/run-unit.sh $(O)
	@./test/scripts/run-tier.sh integration $(O)
	@./test/scripts/run-tier.sh e2e $(O)

unit: all
	@./test/scripts/run-unit.sh $(O)

integration: all
	@./test/scripts/run-tier.sh integration $(O)

e2e: all
	@./test/scripts/run-tier.sh e2e $(O)

# The multi-host lab (issue 10): hosts as network namespaces, set up by examples/bootstrap/.
test-lab: all
	@sh test/lab/e2e.sh

asan:
	@$(MAKE) --no-print-directory SANITIZE=1 unit

# libFuzzer harnesses: test/fuzz/fuzz_*.c, each linked with libkubec built by clang.
FUZZ_SECONDS ?= 60
fuzz: all
	@./test/scripts/run-fuzz.sh $(FUZZ_SECONDS)

bench: all
	@for b in test/bench/*/run.sh; do [ -x "$$b" ] && "$$b" $(O) || exit 1; done

up: deps all
	@./examples/local-up.sh up

down:
	@./examples/local-up.sh down

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(O) -name '*.d' 2>/dev/null)
