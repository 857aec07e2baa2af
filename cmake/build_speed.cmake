# Keep the build pleasant on a 2-core machine: ccache when it is installed (a rebuild after
# `clean` then takes seconds instead of minutes). See shared/reference/build-stack.md §7.
find_program(SWITCHBOARD_CCACHE ccache)
if(SWITCHBOARD_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${SWITCHBOARD_CCACHE}")
  message(STATUS "switchboard: compiling through ${SWITCHBOARD_CCACHE}")
endif()
