# Model stand-in tests, included by tests/sim/CMakeLists.txt (paths relative to tests/sim/).
set(sim_model_tests
  test_energy_vad.cpp
  test_self_signed_ca.cpp
  test_realtime_model_server.cpp)
