# `make install` works and the installed package is usable by applications:
# pkg-config (shared and static) and CMake's find_package(ProxyStore).
set(_ps_sanflags "")
if(PS_SANITIZE STREQUAL "address")
  set(_ps_sanflags "-fsanitize=address,undefined")
elseif(PS_SANITIZE STREQUAL "thread")
  set(_ps_sanflags "-fsanitize=thread")
endif()
add_test(NAME install.consumer
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/check_install.sh ${CMAKE_BINARY_DIR}
          ${CMAKE_SOURCE_DIR} "${_ps_sanflags}")
set_tests_properties(install.consumer PROPERTIES LABELS "install" TIMEOUT 300
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")

# The C example in README.md compiles and runs.
add_test(NAME readme.example
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/readme_example.sh ${CMAKE_SOURCE_DIR}
          $<TARGET_FILE:proxystore_static> "${_ps_sanflags}")
set_tests_properties(readme.example PROPERTIES LABELS "install" TIMEOUT 120)
