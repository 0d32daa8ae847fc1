# The connector conformance suite (tests/conformance/) and its runs against
# the local and file connectors. Other fragments link ps_conformance; see
# tests/conformance/conformance.h for how (they may include this file before
# its turn in the alphabetical order, hence the guard).
include_guard(GLOBAL)

add_library(ps_conformance STATIC ${CMAKE_CURRENT_LIST_DIR}/conformance/conformance.c)
target_include_directories(ps_conformance PUBLIC ${CMAKE_CURRENT_LIST_DIR}/conformance)
target_link_libraries(ps_conformance PUBLIC ps_testutil PRIVATE ps_warnings)

ps_add_test(NAME conformance.local
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/conformance/conformance_local.c
  LIBS ps_conformance LABELS conformance threads)

ps_add_test(NAME conformance.file
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/conformance/conformance_file.c
  LIBS ps_conformance LABELS conformance threads)

# The local connector's unit tests start threads: run them under TSan too.
if(TEST unit.local)
  set_tests_properties(unit.local PROPERTIES LABELS "unit;threads")
endif()
