# Tests of the proxy layer, the CLI and the examples (owner: "proxy" helper).
# Unit tests (tests/unit/test_token.c, test_proxy*.c) are registered by
# tests/CMakeLists.txt; this fragment adds the rest.

# The token decoder's fuzz corpus, replayed without libFuzzer in `make check`.
ps_add_test(NAME fuzz.token_replay
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_token.c ${CMAKE_CURRENT_LIST_DIR}/fuzz/replay_main.c
  ARGS ${CMAKE_CURRENT_LIST_DIR}/corpus/token
  LABELS fuzz unit)

# The libFuzzer program itself: configure a clang build with
#   CC=clang cmake -S . -B build-fuzz -DPS_FUZZ=ON -DPS_SANITIZE=address \
#     -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link
# then run build-fuzz/tests/fuzz_token tests/corpus/token (see docs/proxy.md).
option(PS_FUZZ "Build the libFuzzer targets (needs clang)" OFF)
if(PS_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "PS_FUZZ needs clang (CC=clang)")
  endif()
  add_executable(fuzz_token ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_token.c)
  target_link_libraries(fuzz_token PRIVATE ps_testutil)
  target_compile_options(fuzz_token PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz_token PRIVATE -fsanitize=fuzzer)
  set_target_properties(fuzz_token PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
endif()

# Concurrent resolves and the asynchronous pool (also run under TSan).
ps_add_test(NAME proxy.threads
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/proxy/test_proxy_threads.c
  LABELS proxy threads)

# Tokens made here, resolved by other processes (fork + exec of proxy_consumer).
add_executable(proxy_consumer ${CMAKE_CURRENT_LIST_DIR}/proxy/proxy_consumer.c)
target_link_libraries(proxy_consumer PRIVATE ps_testutil)
set_target_properties(proxy_consumer PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
ps_add_test(NAME proxy.processes
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/proxy/test_proxy_procs.c
  ARGS $<TARGET_FILE:proxy_consumer>
  LABELS proxy threads)
add_dependencies(test_proxy_processes proxy_consumer)

# The proxystore command end to end (shell script driving build/bin/proxystore).
add_test(NAME proxy.cli COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/proxy/cli_test.sh
  $<TARGET_FILE:proxystore_cli>)
set_tests_properties(proxy.cli PROPERTIES LABELS "proxy;cli" TIMEOUT 600
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")

# The examples run as tests; the demo with a small object and a private home.
add_test(NAME proxy.example_pipeline COMMAND example_pipeline)
add_test(NAME proxy.example_thread_pool COMMAND example_thread_pool)
add_test(NAME proxy.demo COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/demo.sh ${CMAKE_BINARY_DIR}/bin)
set_tests_properties(proxy.example_pipeline PROPERTIES LABELS "proxy;examples")
set_tests_properties(proxy.example_thread_pool PROPERTIES LABELS "proxy;examples;threads")
set_tests_properties(proxy.demo PROPERTIES LABELS "proxy;examples" TIMEOUT 600
  ENVIRONMENT "PS_DEMO_MIB=8;PROXYSTORE_HOME=${CMAKE_BINARY_DIR}/proxy-demo-home")
