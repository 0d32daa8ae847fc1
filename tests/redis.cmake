# Redis connector tests (owner: redis helper).
#
# Fixture "redis_server": one redis-server per build directory, started by
# scripts/redis-test-server on a free loopback port and a unix socket in
# ${PS_REDIS_FIXTURE_DIR}, stopped by the PID in its pidfile by the cleanup
# test (which CTest runs even when tests fail). Tests find it through
# PS_TEST_REDIS_DIR. Tests that kill, pause or reconfigure a server start
# their own private servers (tests/redis/redis_testutil.c).
if(NOT TARGET ps_conformance)
  include(${CMAKE_CURRENT_LIST_DIR}/conformance.cmake)
endif()

set(PS_REDIS_FIXTURE_DIR ${CMAKE_BINARY_DIR}/tests/redis-fixture)
set(PS_REDIS_SCRIPT ${CMAKE_SOURCE_DIR}/scripts/redis-test-server)

add_test(NAME redis.server.start COMMAND ${PS_REDIS_SCRIPT} start ${PS_REDIS_FIXTURE_DIR})
set_tests_properties(redis.server.start PROPERTIES FIXTURES_SETUP redis_server
  LABELS redis TIMEOUT 60)
add_test(NAME redis.server.stop COMMAND ${PS_REDIS_SCRIPT} stop ${PS_REDIS_FIXTURE_DIR})
set_tests_properties(redis.server.stop PROPERTIES FIXTURES_CLEANUP redis_server
  LABELS redis TIMEOUT 60)

add_library(ps_redis_testutil STATIC ${CMAKE_CURRENT_LIST_DIR}/redis/redis_testutil.c)
target_include_directories(ps_redis_testutil PUBLIC ${CMAKE_CURRENT_LIST_DIR}/redis)
target_link_libraries(ps_redis_testutil PUBLIC ps_testutil PRIVATE ps_warnings)

set(_redis_env PS_TEST_REDIS_DIR=${PS_REDIS_FIXTURE_DIR})

ps_add_test(NAME conformance.redis.tcp
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/redis/conformance_redis.c ARGS tcp
  LIBS ps_conformance ps_redis_testutil LABELS conformance redis threads
  FIXTURES_REQUIRED redis_server ENV ${_redis_env})
ps_add_test(NAME conformance.redis.unix
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/redis/conformance_redis.c ARGS unix
  LIBS ps_conformance ps_redis_testutil LABELS conformance redis threads
  FIXTURES_REQUIRED redis_server ENV ${_redis_env})

ps_add_test(NAME redis.connector
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/redis/test_redis.c
  LIBS ps_redis_testutil LABELS redis
  FIXTURES_REQUIRED redis_server ENV ${_redis_env})

# Private servers only (started and killed by the test itself).
ps_add_test(NAME redis.failures
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/redis/test_redis_failures.c
  LIBS ps_redis_testutil LABELS redis threads)

ps_add_test(NAME redis.threads
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/redis/test_redis_threads.c
  LIBS ps_redis_testutil LABELS redis threads
  FIXTURES_REQUIRED redis_server ENV ${_redis_env})
