# Load generator tests, included by tests/sim/CMakeLists.txt (paths relative to tests/sim/).
set(sim_loadgen_tests
  test_frame_marker.cpp
  test_marker_table.cpp
  test_process_stats.cpp
  test_loadgen_options.cpp)
