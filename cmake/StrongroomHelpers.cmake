# SPDX-License-Identifier: Apache-2.0
# Helpers that keep module CMakeLists short: one static library per module,
# one test binary per module (docs/ARCHITECTURE.md, "Build").

set(STRONGROOM_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
if(STRONGROOM_WERROR)
  list(APPEND STRONGROOM_WARNINGS -Werror)
endif()
# GCC 12 at -O2/-O3 reports false -Warray-bounds / -Wstringop-overflow/overread /
# -Wmaybe-uninitialized inside libstdc++ (vector::insert, optional) after
# inlining. Debug builds (-O0, -Werror, sanitizers) keep these warnings on.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
  list(APPEND STRONGROOM_WARNINGS -Wno-array-bounds -Wno-stringop-overflow -Wno-stringop-overread
       -Wno-maybe-uninitialized)
endif()

# strongroom_add_library(NAME SOURCES ... DEPS ... [PRIVATE_DEPS ...])
# Creates strongroom_<NAME> with alias strongroom::<NAME>; include root is src/.
function(strongroom_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(strongroom_${name} STATIC ${ARG_SOURCES})
  add_library(strongroom::${name} ALIAS strongroom_${name})
  target_include_directories(strongroom_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(strongroom_${name} PRIVATE ${STRONGROOM_WARNINGS})
  target_link_libraries(strongroom_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# strongroom_add_test(NAME SOURCES ... DEPS ...)
# One gtest binary; every TEST becomes its own ctest entry.
function(strongroom_add_test name)
  if(NOT STRONGROOM_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${STRONGROOM_WARNINGS} -Wno-conversion)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    STRONGROOM_TESTDATA_DIR="${PROJECT_SOURCE_DIR}/testdata")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES ENVIRONMENT "STRONGROOM_TESTDATA_DIR=${PROJECT_SOURCE_DIR}/testdata")
endfunction()
