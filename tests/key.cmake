# Key tests that use threads: also run under TSan (`make check-tsan`, label
# "threads"). unit.key_wrap reads the lazily written text of a wrapped key
# from eight threads at once.
if(TEST unit.key_wrap)
  set_tests_properties(unit.key_wrap PROPERTIES LABELS "unit;threads")
endif()
