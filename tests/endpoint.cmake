# Endpoint server tests (owned by the endpoint area).
#  endpoint.toml      TOML subset reader/writer (src/core/toml.c)
#  endpoint.storage   memory+spill and SQLite storages, in process
#  endpoint.server    the real proxystore-endpoint process on a free port,
#                     driven with libcurl, curl(1) and raw sockets
#  endpoint.manage    configure/list/start/stop/remove/test end to end
ps_add_test(NAME endpoint.toml SOURCES ${CMAKE_CURRENT_LIST_DIR}/endpoint/test_toml.c
  LABELS unit endpoint)
if(TARGET ps_endpoint_core)
  ps_add_test(NAME endpoint.storage SOURCES ${CMAKE_CURRENT_LIST_DIR}/endpoint/test_storage.c
    LIBS ps_endpoint_core LABELS unit endpoint threads)
endif()
if(TARGET proxystore-endpoint)
  ps_add_test(NAME endpoint.server
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/endpoint/test_server.c ${CMAKE_CURRENT_LIST_DIR}/endpoint/eptest.c
    LIBS PkgConfig::CURL LABELS integration endpoint threads TIMEOUT 600)
  add_dependencies(test_endpoint_server proxystore-endpoint)
endif()
if(TARGET proxystore-endpoint)
  ps_add_test(NAME endpoint.manage
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/endpoint/test_manage.c ${CMAKE_CURRENT_LIST_DIR}/endpoint/eptest.c
    LIBS PkgConfig::CURL LABELS integration endpoint TIMEOUT 600)
  add_dependencies(test_endpoint_manage proxystore-endpoint)
endif()
