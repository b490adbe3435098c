# fo_add_test(NAME LABEL <unit|integration|e2e> SOURCES a.c [b.c] [LIBS ...] [ARGS ...])
# Registers a CTest executable. Exit codes: 0 pass, 1 fail, 77 skip.
# Tests get FO_SOURCE_DIR and FO_BINARY_DIR in their environment so they can
# find ../shared data and built programs; integration tests also read
# KAFKA_BROKERS and PG_DSN exported by tools/fleetops.
function(fo_add_test name)
  cmake_parse_arguments(T "" "LABEL" "SOURCES;LIBS;ARGS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name} ${T_ARGS})
  set_tests_properties(${name} PROPERTIES
    LABELS "${T_LABEL}"
    SKIP_RETURN_CODE 77
    ENVIRONMENT "FO_SOURCE_DIR=${PROJECT_SOURCE_DIR};FO_BINARY_DIR=${PROJECT_BINARY_DIR}")
  if(T_LABEL STREQUAL "integration")
    set_tests_properties(${name} PROPERTIES RUN_SERIAL TRUE TIMEOUT 300)
  else()
    set_tests_properties(${name} PROPERTIES TIMEOUT 120)
  endif()
endfunction()

# fo_add_script_test(NAME LABEL <label> COMMAND cmd args...)
# A test that is a script (shell or Python) rather than a C executable.
function(fo_add_script_test name)
  cmake_parse_arguments(T "" "LABEL" "COMMAND" ${ARGN})
  add_test(NAME ${name} COMMAND ${T_COMMAND})
  set_tests_properties(${name} PROPERTIES
    LABELS "${T_LABEL}"
    SKIP_RETURN_CODE 77
    TIMEOUT 300
    ENVIRONMENT "FO_SOURCE_DIR=${PROJECT_SOURCE_DIR};FO_BINARY_DIR=${PROJECT_BINARY_DIR}")
endfunction()
