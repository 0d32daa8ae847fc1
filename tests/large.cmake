# Tests with objects over 2 GiB (label "large"; they need ~7 GiB of memory
# and 3 GiB of disk under $TMPDIR). Run with: ctest -L large
ps_add_test(NAME large.file_3gib
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/large/test_large_file.c
  LABELS large TIMEOUT 1200)
