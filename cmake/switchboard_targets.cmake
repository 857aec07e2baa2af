# Helpers so every folder's library and every test binary get the same flags.

function(switchboard_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wconversion -Wsign-conversion
    -Wno-sign-conversion
    # Designated initialisers that leave members at their defaults are the idiom here.
    -Wno-missing-field-initializers)
  if(SWITCHBOARD_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# switchboard_library(<name> SOURCES <files...> [PUBLIC_DEPS <targets...>] [PRIVATE_DEPS <targets...>])
# One static library per folder, named switchboard_<name>, aliased as switchboard::<name>.
function(switchboard_library name)
  cmake_parse_arguments(arg "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(switchboard_${name} STATIC ${arg_SOURCES})
  add_library(switchboard::${name} ALIAS switchboard_${name})
  # Headers are included as "<folder>/<file>.hpp" from the repository root.
  target_include_directories(switchboard_${name} PUBLIC "${PROJECT_SOURCE_DIR}")
  target_link_libraries(switchboard_${name} PUBLIC ${arg_PUBLIC_DEPS} PRIVATE ${arg_PRIVATE_DEPS})
  switchboard_warnings(switchboard_${name})
endfunction()

# switchboard_test(<name> SOURCES <files...> DEPS <targets...> [NEEDS_EXECUTABLE] [LABELS <l...>])
# A Catch2 binary whose TEST_CASEs are registered one by one in CTest. NEEDS_EXECUTABLE: the
# tests run build/switchboard (path in $SWITCHBOARD_BINARY), so it is built first. LABELS: CTest
# labels for every test of the binary (ctest -L).
function(switchboard_test name)
  cmake_parse_arguments(arg "NEEDS_EXECUTABLE" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${arg_SOURCES})
  target_link_libraries(${name} PRIVATE ${arg_DEPS} switchboard_test_main)
  # Shared test helpers: #include "support/...".
  target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/tests")
  target_compile_definitions(${name} PRIVATE
    SWITCHBOARD_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    SWITCHBOARD_BINARY_DIR="${PROJECT_BINARY_DIR}")
  switchboard_warnings(${name})
  set(properties)
  if(arg_LABELS)
    list(APPEND properties LABELS "${arg_LABELS}")
  endif()
  if(arg_NEEDS_EXECUTABLE)
    add_dependencies(${name} switchboard)
    list(APPEND properties ENVIRONMENT "SWITCHBOARD_BINARY=${PROJECT_BINARY_DIR}/switchboard")
  endif()
  if(properties)
    catch_discover_tests(${name} TEST_PREFIX "${name}: " PROPERTIES ${properties})
  else()
    catch_discover_tests(${name} TEST_PREFIX "${name}: ")
  endif()
  # CMake lists split on ';': a test name holding one is registered as two names that match no
  # test, and the test never runs in CTest. This check fails instead.
  add_test(NAME "${name}: no test name holds a semicolon"
    COMMAND sh -c "! \"$1\" --list-test-names-only | grep -F ';'" sh $<TARGET_FILE:${name}>)
endfunction()
