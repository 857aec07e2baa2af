# Twilio stand-in sources, included by sim/CMakeLists.txt (paths relative to sim/).
set(sim_caller_sources
  caller_playout.cpp
  twilio_caller.cpp)
