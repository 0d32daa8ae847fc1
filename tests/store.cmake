# Store tests that use threads: also run under TSan (`make check-tsan`,
# label "threads"). The programs themselves are the unit tests
# tests/unit/test_store_threads.c and tests/unit/test_registry.c.
foreach(_t unit.store_threads unit.registry)
  if(TEST ${_t})
    set_tests_properties(${_t} PROPERTIES LABELS "unit;threads")
  endif()
endforeach()
