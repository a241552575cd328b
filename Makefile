# Thin wrappers around host/mig.py (one entry point, like kunit.py).
# Variables: BASE=5.10.262|5.10.223|7.2.8 (host/migbp/bases.py)  KERNEL=base|patched|both  TESTS=hmm-tests,migration  KCONFIG=vm|debug
#            FORCE=1 (tree)  DEBUG=1 (check)  BOOT_TIMEOUT=900  ACCEL=tcg|kvm|auto  SMP=4 (vCPUs)
#            prefix: PREFIXES=0,3,7 (0 = base) BOOTS=3 TESTS=migration
#            probe: PROBE='streak shared 3 10; streak private 7 20 4' PREFIXES=0,11 BOOTS=1 SMP=8 KCONFIG=vm|trace (htrace.sh)
#            bench: QUICK=1  BOOTS=5  BENCH_SECS=2  BENCH_LIMIT=120  BENCH_REPORT=build/bench/<run>  BENCH_REV=<build/linux rev>  BENCH_4K=1
#                   BENCH_REPS=3 (rounds of the cost rows)  BENCH_ONLY=cost|gain
#            soak: DURATION=600 (seconds per kernel; KCONFIG defaults to debug)
#            stress: DURATION=300 (seconds per kernel; KCONFIG defaults to debug) KERNEL=both STRESSORS=mmap,vm (a subset of the mix)
#            vmtests: KERNEL=both (default) TESTS=<case or binary,...> KCONFIG=vm|debug VMTESTS_LOGS=<base log>,<patched log> (report again, no boot)
#            trace: KERNEL=base|patched|both  TRACE_SECS=3  TRACE_T=3  TRACE_REPORT=build/trace/<run>
#            coverage: COVERAGE_LOG=build/logs/patched-gcov-<stamp>.log (report again, no boot)
#            mainline: the mainline series, base and patched (BASE=7.2.8 make run KERNEL=both TESTS=$(MAINLINE_TESTS)); KERNEL= TESTS= KCONFIG=debug override
#            moves: MOVES_LOGS='build/logs/base-<stamp>.log ...' (globs allowed; no boot)
# Debian's python3 (the one `make deps` installs pytest etc. for); host/bootstrap
# installs it on a machine that has only git and make.
PYTHON ?= /usr/bin/python3
MIG = host/bootstrap && PYTHONPATH=host $(PYTHON) host/mig.py
MAINLINE_BASE ?= 7.2.8
MAINLINE_TESTS ?= migration,migration-strict,migration-count,refault
export BASE SMP PREFIXES PROBE KERNEL TESTS KCONFIG FORCE DEBUG BOOT_TIMEOUT ACCEL QUICK BOOTS BENCH_SECS BENCH_LIMIT BENCH_REPORT BENCH_REV BENCH_4K BENCH_REPS BENCH_ONLY DURATION TRACE_SECS TRACE_T TRACE_REPORT COVERAGE_LOG MOVES_LOGS VMTESTS_LOGS STRESSORS

.PHONY: all check tree export run mainline bench prefix probe soak trace coverage moves vmtests stress unit clean help deps

all:
	@$(MIG) all
check:
	@$(MIG) check
tree:
	@$(MIG) tree
export:
	@$(MIG) export
run:
	@$(MIG) run
mainline:
	@export BASE=$(MAINLINE_BASE) KERNEL=$(or $(KERNEL),both) TESTS=$(or $(TESTS),$(MAINLINE_TESTS)); $(MIG) run
bench:
	@$(MIG) bench
prefix:
	@$(MIG) prefix
probe:
	@$(MIG) probe
trace:
	@$(MIG) trace
coverage:
	@$(MIG) coverage
soak:
	@$(MIG) soak
moves:
	@$(MIG) moves
vmtests:
	@$(MIG) vmtests
stress:
	@$(MIG) stress
unit:
	@$(MIG) unit
deps:
	@$(MIG) deps
clean:
	@$(MIG) clean
help:
	@$(MIG) --help
