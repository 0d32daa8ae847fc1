# The endpoint connector (src/connectors/endpoint.c) against real
# proxystore-endpoint processes (started and stopped by PID by the tests,
# through tests/endpoint/eptest.c).
if(TARGET proxystore-endpoint)
  if(NOT TARGET ps_conformance)
    include(${CMAKE_CURRENT_LIST_DIR}/conformance.cmake)
  endif()
  set(_epc ${CMAKE_CURRENT_LIST_DIR}/endpoint_connector)
  set(_ept ${CMAKE_CURRENT_LIST_DIR}/endpoint/eptest.c)
  foreach(_storage memory spill sqlite)
    ps_add_test(NAME conformance.endpoint.${_storage}
      SOURCES ${_epc}/conformance_endpoint.c ${_ept} ARGS ${_storage}
      LIBS ps_conformance PkgConfig::CURL LABELS conformance endpoint threads TIMEOUT 600)
    target_include_directories(test_conformance_endpoint_${_storage} PRIVATE
      ${CMAKE_CURRENT_LIST_DIR}/endpoint)
    add_dependencies(test_conformance_endpoint_${_storage} proxystore-endpoint)
  endforeach()
  ps_add_test(NAME endpoint.connector SOURCES ${_epc}/test_endpoint_connector.c ${_ept}
    LIBS PkgConfig::CURL LABELS integration endpoint TIMEOUT 300)
  target_include_directories(test_endpoint_connector PRIVATE ${CMAKE_CURRENT_LIST_DIR}/endpoint)
  add_dependencies(test_endpoint_connector proxystore-endpoint)
endif()
