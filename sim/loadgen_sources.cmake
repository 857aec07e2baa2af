# Load generator sources, included by sim/CMakeLists.txt (paths relative to sim/).
set(sim_loadgen_sources
  frame_marker.cpp
  marker_table.cpp
  process_stats.cpp
  server_process.cpp
  loadgen.cpp
  loadgen_report.cpp)
