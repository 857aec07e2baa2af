#pragma once
// An io_context running on its own thread for the length of a test (shared by the net tests).

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <thread>

namespace switchboard::net::testing {

struct running_io {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
      boost::asio::make_work_guard(io);
  std::thread thread{[this] {
    io.run();
  }};
  ~running_io() {
    work.reset();
    io.stop();
    thread.join();
  }
};

}  // namespace switchboard::net::testing
