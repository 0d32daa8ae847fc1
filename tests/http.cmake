# The endpoint connector's built-in HTTP/1.1 client (src/connectors/endpoint/
# http.c): against tests/http/server.py (python3), and from 8 threads and a
# forked child against a real proxystore-endpoint; plus the endpoint
# conformance suite once more through libcurl (PROXYSTORE_ENDPOINT_HTTP=curl)
# so that path stays tested.
find_program(PS_PYTHON3 python3)
if(PS_PYTHON3)
  ps_add_test(NAME http.client SOURCES ${CMAKE_CURRENT_LIST_DIR}/http/test_http_client.c
    LABELS unit endpoint TIMEOUT 300)
  # The spare body buffer switched off (PROXYSTORE_ENDPOINT_SPARE_MAX=0).
  ps_add_test(NAME http.client.nospare SOURCES ${CMAKE_CURRENT_LIST_DIR}/http/test_http_client.c
    ENV PROXYSTORE_ENDPOINT_SPARE_MAX=0 PS_TEST_FILTER=test_spare*
    LABELS unit endpoint TIMEOUT 300)
endif()

if(TARGET proxystore-endpoint)
  if(NOT TARGET ps_conformance)
    include(${CMAKE_CURRENT_LIST_DIR}/conformance.cmake)
  endif()
  ps_add_test(NAME http.threads
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/http/test_http_threads.c
            ${CMAKE_CURRENT_LIST_DIR}/endpoint/eptest.c
    LIBS PkgConfig::CURL LABELS integration endpoint threads TIMEOUT 600)
  target_include_directories(test_http_threads PRIVATE ${CMAKE_CURRENT_LIST_DIR}/endpoint)
  add_dependencies(test_http_threads proxystore-endpoint)

  ps_add_test(NAME conformance.endpoint.curl
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/endpoint_connector/conformance_endpoint.c
            ${CMAKE_CURRENT_LIST_DIR}/endpoint/eptest.c
    ARGS memory ENV PROXYSTORE_ENDPOINT_HTTP=curl
    LIBS ps_conformance PkgConfig::CURL LABELS conformance endpoint threads TIMEOUT 600)
  target_include_directories(test_conformance_endpoint_curl PRIVATE
    ${CMAKE_CURRENT_LIST_DIR}/endpoint)
  add_dependencies(test_conformance_endpoint_curl proxystore-endpoint)
endif()
