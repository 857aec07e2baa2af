# Memory safety is checked, not assumed: SWITCHBOARD_SANITIZE=address,undefined (or thread)
# builds every target of this tree with those sanitizers, so that the same tests run under them
# (scripts/test does, in build-sanitized/). Set for the whole tree rather than per target: a
# sanitizer must see every object that shares memory with another (a library built without
# ASan hides the overflows of its callers' buffers), and our libraries, tests and executable
# all share memory.
#
# -fno-sanitize-recover: a UBSan finding fails the test that caused it. (libstdc++'s
# _GLIBCXX_ASSERTIONS would be welcome too, but CAF 0.17's own headers trip it: init_fun_factory
# dereferences an empty shared_ptr<std::tuple<>> for every actor spawned without arguments.)
set(SWITCHBOARD_SANITIZE "" CACHE STRING
  "Sanitizers for every target: address,undefined or thread (empty: none)")
if(SWITCHBOARD_SANITIZE)
  message(STATUS "switchboard: building with -fsanitize=${SWITCHBOARD_SANITIZE}")
  add_compile_options(-fsanitize=${SWITCHBOARD_SANITIZE} -fno-sanitize-recover=all
    -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${SWITCHBOARD_SANITIZE})
  # The instrumentation defeats g++ 12's flow analysis inside libstdc++ (std::regex's
  # std::function copies, tests/app/test_commands.cpp): -Wmaybe-uninitialized reports what the
  # normal build proves initialised. ASan itself finds real uses of uninitialised memory.
  add_compile_options(-Wno-maybe-uninitialized)
  if(SWITCHBOARD_SANITIZE MATCHES "thread")
    # g++ warns that TSan does not model Asio's atomic_thread_fence; -Werror would stop there.
    add_compile_options(-Wno-tsan)
  endif()
endif()
