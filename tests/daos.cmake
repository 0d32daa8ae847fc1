# DAOS connector tests. DAOS cannot run here, so the connector is tested
# against an emulation of the libdaos ABI subset it uses: a shared library
# with SONAME libdaos.so.2 (tests/daos/emu/libdaos_emu.c) that the connector
# loads with dlopen exactly as it loads the real one, through
# PROXYSTORE_DAOS_LIBRARY. Nothing links the emulation.

set(PS_DAOS_EMU_DIR ${CMAKE_BINARY_DIR}/tests/daos-emu)
add_library(daos_emu SHARED ${CMAKE_CURRENT_LIST_DIR}/daos/emu/libdaos_emu.c)
set_target_properties(daos_emu PROPERTIES OUTPUT_NAME daos VERSION 2.8.0 SOVERSION 2
  LIBRARY_OUTPUT_DIRECTORY ${PS_DAOS_EMU_DIR})
target_include_directories(daos_emu PRIVATE ${CMAKE_SOURCE_DIR}/src
  ${CMAKE_CURRENT_LIST_DIR}/daos/emu)
target_link_libraries(daos_emu PRIVATE ps_warnings Threads::Threads)

add_library(daos_nosym SHARED ${CMAKE_CURRENT_LIST_DIR}/daos/emu/nosym.c)
set_target_properties(daos_nosym PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${PS_DAOS_EMU_DIR})
target_link_libraries(daos_nosym PRIVATE ps_warnings)

set(PS_DAOS_EMU_LIB ${PS_DAOS_EMU_DIR}/libdaos.so.2)
set(PS_DAOS_ENV PROXYSTORE_DAOS_LIBRARY=${PS_DAOS_EMU_LIB})

# ps_daos_test(NAME n SOURCES ... [LABELS ...] [ENV ...] [ARGS ...] [LIBS ...])
function(ps_daos_test)
  cmake_parse_arguments(D "" "NAME" "SOURCES;LABELS;ENV;ARGS;LIBS" ${ARGN})
  ps_add_test(NAME ${D_NAME} SOURCES ${D_SOURCES} LABELS daos ${D_LABELS}
    ENV ${D_ENV} ARGS ${D_ARGS} LIBS ${D_LIBS})
  string(REPLACE "." "_" _exe "test_${D_NAME}")
  target_include_directories(${_exe} PRIVATE ${CMAKE_CURRENT_LIST_DIR}/daos/emu
    ${CMAKE_SOURCE_DIR}/src)
  add_dependencies(${_exe} daos_emu daos_nosym)
endfunction()

ps_daos_test(NAME daos.connector SOURCES ${CMAKE_CURRENT_LIST_DIR}/daos/test_daos.c
  ${CMAKE_CURRENT_LIST_DIR}/daos/daos_testenv.c
  ENV ${PS_DAOS_ENV})

if(NOT TARGET ps_conformance)
  include(${CMAKE_CURRENT_LIST_DIR}/conformance.cmake)
endif()
ps_daos_test(NAME conformance.daos
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/daos/conformance_daos.c ${CMAKE_CURRENT_LIST_DIR}/daos/daos_testenv.c
  LIBS ps_conformance LABELS conformance threads ENV ${PS_DAOS_ENV})

ps_daos_test(NAME daos.threads
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/daos/test_daos_threads.c ${CMAKE_CURRENT_LIST_DIR}/daos/daos_testenv.c
  LABELS threads ENV ${PS_DAOS_ENV})

# No usable libdaos: a missing file, and a library without the DAOS symbols.
ps_daos_test(NAME daos.nolib_missing SOURCES ${CMAKE_CURRENT_LIST_DIR}/daos/test_daos_nolib.c
  ARGS missing ENV PROXYSTORE_DAOS_LIBRARY=${PS_DAOS_EMU_DIR}/no-such-dir/libdaos.so.2)
ps_daos_test(NAME daos.nolib_nosym SOURCES ${CMAKE_CURRENT_LIST_DIR}/daos/test_daos_nolib.c
  ARGS nosym ENV PROXYSTORE_DAOS_LIBRARY=${PS_DAOS_EMU_DIR}/libdaos_nosym.so)
