# bench.quick: the benchmark harness (scripts/bench.sh + ps_bench) in QUICK
# mode against this build, so `make check` keeps it working. It asserts
# nothing about speed: only that the harness runs, that its servers start and
# stop, and that the JSON it writes has every field of the schema
# (ps_bench --check, see bench/README.md). Results go to the build directory,
# never to bench/results/.
if(TARGET ps_bench)
  add_test(NAME bench.quick
    COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/bench.sh ${CMAKE_BINARY_DIR} --quick --no-build
            --out ${CMAKE_BINARY_DIR}/bench/quick.json)
  set_tests_properties(bench.quick PROPERTIES
    TIMEOUT 300
    LABELS "bench"
    RUN_SERIAL TRUE
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
