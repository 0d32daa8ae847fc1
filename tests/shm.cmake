# Shared-memory connector tests (owner: shm helper). See docs/connectors-shm.md.
#
# - conformance.shm: the conformance suite, stores in a private directory
#   under /dev/shm.
# - shm.connector: options, keys, heap vs segment objects, views outliving
#   evict and clear, limits (PS_ENOSPC), list/remove/gc, repair.
# - shm.procs: fork/exec: a child maps an object the parent put; children
#   killed with SIGKILL in the middle of puts leave nothing visible.
# - shm.full: a small tmpfs mounted for the test fills up: PS_ENOSPC, no
#   SIGBUS (needs root and mount(8); skipped otherwise).
# - shm.threads: 8 threads on one connector and on one store (TSan).
if(NOT TARGET ps_conformance)
  include(${CMAKE_CURRENT_LIST_DIR}/conformance.cmake)
endif()

add_library(ps_shm_testutil STATIC ${CMAKE_CURRENT_LIST_DIR}/shm/shm_testutil.c)
target_include_directories(ps_shm_testutil PUBLIC ${CMAKE_CURRENT_LIST_DIR}/shm)
target_link_libraries(ps_shm_testutil PUBLIC ps_testutil PRIVATE ps_warnings)

ps_add_test(NAME conformance.shm
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/shm/conformance_shm.c
  LIBS ps_conformance ps_shm_testutil LABELS conformance shm threads)

ps_add_test(NAME shm.connector
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/shm/test_shm.c
  LIBS ps_shm_testutil LABELS shm)

ps_add_test(NAME shm.procs
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/shm/test_shm_procs.c
  LIBS ps_shm_testutil LABELS shm integration)

ps_add_test(NAME shm.full
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/shm/test_shm_full.c
  LIBS ps_shm_testutil LABELS shm integration)

ps_add_test(NAME shm.threads
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/shm/test_shm_threads.c
  LIBS ps_shm_testutil LABELS shm threads)

# `proxystore shm ls|rm` and shm:NAME SPECs end to end (build/bin/proxystore).
if(TARGET proxystore_cli)
  add_test(NAME shm.cli COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/shm/shm_cli_test.sh
    $<TARGET_FILE:proxystore_cli>)
  set_tests_properties(shm.cli PROPERTIES LABELS "shm;cli" TIMEOUT 300
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
