# Twilio REST stand-in sources, included by sim/CMakeLists.txt (paths relative to sim/).
set(sim_rest_sources
  twilio_rest_api.cpp
  twilio_rest_server.cpp)
