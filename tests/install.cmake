# `make install` works and the installed package is usable by applications:
# pkg-config (shared and static) and CMake's find_package(ProxyStore).
set(_ps_sanflags "")
if(PS_SANITIZE STREQUAL "address")
  set(_ps_sanflags "-fsanitize=address,undefined")
elseif(PS_SANITIZE STREQUAL "thread")
  set(_ps_sanflags "-fsanitize=thread")
endif()
add_test(NAME install.consumer
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/install/check_install.sh ${CMAKE_BINARY_DIR}
          ${CMAKE_SOURCE_DIR} "${_ps_sanflags}")
set_tests_properties(install.consumer PROPERTIES LABELS "install" TIMEOUT 300
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
