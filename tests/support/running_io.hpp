#pragma once
// An io_context running on its own threads for the length of a test. The stand-ins and the
// bridge run theirs on two, as the server does: tests of them pass 2, so that handlers that
// forget their strand show up.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <thread>
#include <vector>

namespace switchboard::testing {

struct running_io {
  explicit running_io(unsigned thread_count = 1) {
    for (unsigned i = 0; i < thread_count; ++i)
      threads.emplace_back([this] { io.run(); });
  }
  ~running_io() {
    work.reset();
    io.stop();
    for (auto& thread : threads)
      thread.join();
  }
  running_io(const running_io&) = delete;
  running_io& operator=(const running_io&) = delete;

  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
      boost::asio::make_work_guard(io);
  std::vector<std::thread> threads;
};

}  // namespace switchboard::testing
