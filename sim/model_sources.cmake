# Model stand-in sources, included by sim/CMakeLists.txt (paths relative to sim/).
set(sim_model_sources
  energy_vad.cpp
  self_signed_ca.cpp
  realtime_model_server.cpp)
