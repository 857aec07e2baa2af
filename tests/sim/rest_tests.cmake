# Twilio REST stand-in tests, included by tests/sim/CMakeLists.txt (paths relative to tests/sim/).
set(sim_rest_tests
  test_twilio_rest_server.cpp)
