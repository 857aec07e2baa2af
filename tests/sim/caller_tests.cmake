# Twilio stand-in tests, included by tests/sim/CMakeLists.txt (paths relative to tests/sim/).
set(sim_caller_tests
  test_caller_playout.cpp
  test_twilio_caller.cpp)
