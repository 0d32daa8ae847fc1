# Multi connector tests (owner: multi helper).
#
# - unit.multi / unit.policy come from tests/unit/test_multi.c and test_policy.c.
# - conformance.multi.local-file: the conformance suite over a multi of a
#   local and a file connector (routed by size).
# - conformance.multi.local-redis-file: the same with a Redis connector in
#   the middle, on the shared Redis fixture of tests/redis.cmake.
# - multi.hosts: dormant connectors across two processes that play different
#   hosts (PROXYSTORE_HOSTNAME), the test binary re-executing itself.
# - bench_multi (built, not run by CTest): routing overhead of a 1 KiB put.
if(NOT TARGET ps_conformance)
  include(${CMAKE_CURRENT_LIST_DIR}/conformance.cmake)
endif()

ps_add_test(NAME conformance.multi.local-file
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/multi/conformance_multi.c ARGS local-file
  LIBS ps_conformance LABELS conformance multi threads)

if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/redis.cmake)
  ps_add_test(NAME conformance.multi.local-redis-file
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/multi/conformance_multi.c ARGS local-redis-file
    LIBS ps_conformance LABELS conformance multi redis threads
    FIXTURES_REQUIRED redis_server
    ENV PS_TEST_REDIS_DIR=${CMAKE_BINARY_DIR}/tests/redis-fixture)
endif()

ps_add_test(NAME multi.hosts
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/multi/test_multi_hosts.c
  LABELS multi integration)

# Routing-overhead micro-benchmark (run by hand from a Release build).
add_executable(bench_multi ${CMAKE_CURRENT_LIST_DIR}/multi/bench_multi.c)
target_link_libraries(bench_multi PRIVATE proxystore_static ps_warnings)
set_target_properties(bench_multi PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
