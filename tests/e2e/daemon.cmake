# The daemon end to end: `weighbridge run` inside network namespaces, fed by iperf3 and tcpreplay
# over a veth pair (tests/e2e/daemon_*.py; shared pieces in daemon_lib.py). Included by
# tests/e2e/CMakeLists.txt. Each script creates and removes its own namespaces, needs root, and
# prints "SKIP: <reason>" and exits 77 when something it needs is missing (root, iperf3,
# tcpreplay, DPDK, the shared captures). Serial: they measure traffic and DPDK starts one EAL.
set(WB_E2E_PYTHON "/usr/bin/python3" CACHE FILEPATH "Python 3 for the daemon end-to-end tests")

# wb_add_daemon_e2e(NAME SCRIPT TIMEOUT SECONDS [LABELS ...] [ARGS ...])
function(wb_add_daemon_e2e name script)
  cmake_parse_arguments(ARG "" "TIMEOUT" "LABELS;ARGS" ${ARGN})
  add_test(NAME e2e.daemon.${name}
           COMMAND ${WB_E2E_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/${script}
                   --binary $<TARGET_FILE:weighbridge> ${ARG_ARGS})
  set_tests_properties(e2e.daemon.${name} PROPERTIES
    LABELS "e2e;needs_root;${ARG_LABELS}"
    RUN_SERIAL TRUE
    TIMEOUT ${ARG_TIMEOUT}
    SKIP_RETURN_CODE 77
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endfunction()

wb_add_daemon_e2e(iperf_pcap daemon_iperf.py TIMEOUT 120 LABELS needs_iperf3
  ARGS --capture pcap)
wb_add_daemon_e2e(iperf_dpdk daemon_iperf.py TIMEOUT 120 LABELS needs_iperf3 needs_dpdk
  ARGS --capture dpdk)
wb_add_daemon_e2e(tcpreplay daemon_tcpreplay.py TIMEOUT 180 LABELS needs_pcaps needs_tcpreplay
  ARGS --pcaps ${WB_SHARED_PCAPS})
wb_add_daemon_e2e(signals daemon_signals.py TIMEOUT 180 LABELS needs_iperf3)
# The other DPDK tests take the same lock (two EALs at once need distinct file prefixes).
set_tests_properties(e2e.daemon.iperf_dpdk PROPERTIES RESOURCE_LOCK dpdk)
wb_add_daemon_e2e(privileges daemon_privileges.py TIMEOUT 60)
