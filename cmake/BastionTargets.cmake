# Helpers that give every module the same warnings, hardening and test wiring.

add_library(bastion_warnings INTERFACE)
target_compile_options(bastion_warnings INTERFACE
  -Wall -Wextra -Werror -Wpedantic -Wshadow=local -Wnon-virtual-dtor
  # GCC 12 with optimisation misreports Asio's coroutine frame allocator (the class-specific
  # operator new/delete of awaitable_frame_base) as a mismatched pair.
  -Wno-mismatched-new-delete)
# Boost.Asio with C++20 coroutines; no deprecated Asio interfaces.
target_compile_definitions(bastion_warnings INTERFACE
  BOOST_ASIO_NO_DEPRECATED BOOST_ASIO_HAS_CO_AWAIT)

# bastion_module(NAME SOURCES ... DEPS ...) -> library bastion_NAME with alias bastion::NAME
function(bastion_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(bastion_${name} STATIC ${ARG_SOURCES})
  add_library(bastion::${name} ALIAS bastion_${name})
  target_include_directories(bastion_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(bastion_${name} PUBLIC ${ARG_DEPS} PRIVATE bastion_warnings)
endfunction()

# The tests labelled `tsan` (threads, under ThreadSanitizer) and what they run; the tsan build
# preset builds only this target.
if(BASTION_BUILD_TESTS)
  add_custom_target(tsan_tests)
endif()

# bastion_test(NAME SOURCES ... DEPS ... LABELS ...) -> a GoogleTest binary registered with ctest
function(bastion_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT BASTION_BUILD_TESTS)
    return()
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main bastion_warnings)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT 120)
  if("tsan" IN_LIST ARG_LABELS)
    add_dependencies(tsan_tests ${name})
  endif()
endfunction()

# bastion_benchmark(NAME SOURCES ... DEPS ...) -> a Google Benchmark binary, run by ctest once as a
# smoke with minimal time (label bench), never as a timed test. The root declares
# BASTION_BUILD_BENCH (default ON) after the modules are added: unset means the default.
function(bastion_benchmark name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  if(NOT BASTION_BUILD_TESTS OR (DEFINED BASTION_BUILD_BENCH AND NOT BASTION_BUILD_BENCH))
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} benchmark::benchmark bastion_warnings)
  add_test(NAME ${name} COMMAND ${name} --benchmark_min_time=0.01)
  set_tests_properties(${name} PROPERTIES LABELS bench TIMEOUT 120)
endfunction()
