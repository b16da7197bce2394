# Shared compile settings and helpers for opfleet targets.

add_library(opfleet_options INTERFACE)
target_compile_options(opfleet_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow
  -Wnon-virtual-dtor -Wcast-align -Wunused -Woverloaded-virtual
  -Wimplicit-fallthrough)
if(OPFLEET_WERROR)
  target_compile_options(opfleet_options INTERFACE -Werror)
endif()
if(OPFLEET_SANITIZE)
  target_compile_options(opfleet_options INTERFACE -fsanitize=address,undefined
    -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(opfleet_options INTERFACE -fsanitize=address,undefined)
endif()
target_compile_definitions(opfleet_options INTERFACE OPFLEET_VERSION="${PROJECT_VERSION}")

# Executables are position independent (CMAKE_POSITION_INDEPENDENT_CODE in CMakeLists.txt);
# check_pie_supported() makes CMake pass -pie when linking them too, rather than relying
# on g++'s default on Debian.
include(CheckPIESupported)
check_pie_supported()

# Debian's hardening flags (dpkg-buildflags, hardening=+all on bookworm) in every build, so
# the binary scripts/test builds and tests is one lintian accepts for the package
# (scripts/package --prebuilt) and developers run what ships. Not with the sanitizers:
# the fortified libc variants (__memcpy_chk, ...) bypass ASan's interceptors, and ASan
# already checks what the stack protector would. _FORTIFY_SOURCE needs optimisation (glibc
# warns without it, an error under -Werror), so only the optimised build types get it; the
# Debian package build (type None) takes it from dpkg-buildflags' CPPFLAGS instead.
option(OPFLEET_HARDENING "Compile and link with Debian's hardening flags (not with OPFLEET_SANITIZE)" ON)
if(OPFLEET_HARDENING AND NOT OPFLEET_SANITIZE)
  target_compile_options(opfleet_options INTERFACE -fstack-protector-strong
    -Wformat -Werror=format-security)
  target_compile_definitions(opfleet_options INTERFACE
    $<$<CONFIG:Release,RelWithDebInfo,MinSizeRel>:_FORTIFY_SOURCE=2>)
  target_link_options(opfleet_options INTERFACE LINKER:-z,relro LINKER:-z,now)
endif()

if(OPFLEET_CLANG_TIDY)
  # clang-tidy 16 (Debian bookworm) is the oldest that parses libstdc++ 12's <expected>,
  # given two adjustments: it spells C++23 as c++2b, and it implements the conditionally
  # trivial special members <expected> needs (P0848) but does not yet advertise them in
  # __cpp_concepts, which <expected> checks.
  # Product code only (the component libraries and the executable): the checks are about
  # shipped code, and tidying the tests too would double a build that CI runs on 2 cores.
  find_program(CLANG_TIDY_EXE NAMES clang-tidy-16 REQUIRED)
  set(OPFLEET_TIDY_COMMAND ${CLANG_TIDY_EXE} --quiet --extra-arg=-std=c++2b
      --extra-arg=-U__cpp_concepts --extra-arg=-D__cpp_concepts=202002L)
endif()

# opfleet_library(NAME SOURCES ... DEPS ...): one static library per component,
# named opfleet_NAME, whose headers are included as "NAME/header.h".
function(opfleet_library name)
  cmake_parse_arguments(L "" "" "SOURCES;DEPS" ${ARGN})
  add_library(opfleet_${name} STATIC ${L_SOURCES})
  target_include_directories(opfleet_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(opfleet_${name} PUBLIC opfleet_options ${L_DEPS})
  if(OPFLEET_TIDY_COMMAND)
    set_target_properties(opfleet_${name} PROPERTIES CXX_CLANG_TIDY "${OPFLEET_TIDY_COMMAND}")
  endif()
endfunction()

# opfleet_test(NAME SOURCES ... DEPS ... LABEL unit|integration): a GoogleTest binary
# in build/tests; each test case becomes one ctest entry carrying LABEL, so
# `ctest -L unit` selects the tests that need no server.
function(opfleet_test name)
  cmake_parse_arguments(T "" "LABEL;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT T_LABEL MATCHES "^(unit|integration)$")
    message(FATAL_ERROR "opfleet_test(${name}) needs LABEL unit or integration")
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE opfleet_test_support ${T_DEPS} GTest::gmock GTest::gtest_main)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS ${T_LABEL} TIMEOUT ${T_TIMEOUT})
  # opfleet_unit_tests / opfleet_integration_tests: every test binary of the label (and,
  # through their own add_dependencies, what they run, such as the opfleet executable).
  # The asan preset builds only opfleet_unit_tests: only the unit tests run under the
  # sanitizers, and building the rest there would cost CI minutes for nothing.
  if(NOT TARGET opfleet_${T_LABEL}_tests)
    add_custom_target(opfleet_${T_LABEL}_tests)
  endif()
  add_dependencies(opfleet_${T_LABEL}_tests ${name})
endfunction()
