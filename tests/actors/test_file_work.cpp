// The node's file thread (actors/file_work.hpp): jobs in posting order, one thread, batches
// gathered after the first job wakes it, nothing lost when it stops. Real threads; every wait
// is on a future the jobs fulfil (the 60 s bounds are there to fail instead of hanging).
#include "actors/file_work.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <map>
#include <set>
#include <thread>
#include <utility>
#include <vector>

using switchboard::actors::file_work_thread;
using namespace std::chrono_literals;

namespace {

/// Posts a job that fulfils a promise, and waits for it: everything posted before has run.
void wait_for_queue(file_work_thread& files) {
  std::promise<void> reached;
  auto future = reached.get_future();
  files.post([&reached] { reached.set_value(); });
  REQUIRE(future.wait_for(60s) == std::future_status::ready);
}

}  // namespace

TEST_CASE("the file thread runs every job once, on one thread, in each poster's order",
          "[file_work]") {
  file_work_thread files;
  // Touched by the file thread only, read after wait_for_queue.
  std::vector<std::pair<int, int>> ran;
  std::set<std::thread::id> runners;
  std::vector<std::thread> posters;
  constexpr int posts_each = 500;
  for (int poster = 0; poster < 4; ++poster) {
    posters.emplace_back([&files, &ran, &runners, poster] {
      for (int sequence = 0; sequence < posts_each; ++sequence) {
        files.post([&ran, &runners, poster, sequence] {
          ran.emplace_back(poster, sequence);
          runners.insert(std::this_thread::get_id());
        });
      }
    });
  }
  for (auto& poster : posters)
    poster.join();
  wait_for_queue(files);

  REQUIRE(ran.size() == 4 * posts_each);
  std::map<int, int> next;
  for (const auto& [poster, sequence] : ran) {
    INFO("poster " << poster);
    CHECK(sequence == next[poster]++);
  }
  REQUIRE(runners.size() == 1);
  CHECK(*runners.begin() != std::this_thread::get_id());
  CHECK(files.pending() == 0);
}

TEST_CASE("a job posted to an idle file thread wakes it, every time", "[file_work]") {
  file_work_thread files;
  for (int round = 0; round < 20; ++round) {
    INFO("round " << round);
    wait_for_queue(files);  // the thread is idle again after each
  }
}

TEST_CASE("jobs posted while a batch runs follow it, in order", "[file_work]") {
  file_work_thread files(0ms);
  std::vector<int> ran;
  std::promise<void> first_running;
  std::promise<void> more_posted;
  auto more_posted_future = more_posted.get_future();
  files.post([&] {
    first_running.set_value();
    more_posted_future.wait();
    ran.push_back(1);
  });
  first_running.get_future().wait();
  files.post([&ran] { ran.push_back(2); });
  files.post([&ran] { ran.push_back(3); });
  CHECK(files.pending() == 3);
  more_posted.set_value();
  wait_for_queue(files);
  CHECK(ran == std::vector<int>{1, 2, 3});
}

TEST_CASE("stopping runs what waits in the batch window, and later jobs run on the poster",
          "[file_work]") {
  // A window far longer than the test: only stop() can end it.
  file_work_thread files(std::chrono::hours(1));
  std::vector<int> ran;
  std::set<std::thread::id> runners;
  for (int job = 0; job < 3; ++job) {
    files.post([&ran, &runners, job] {
      ran.push_back(job);
      runners.insert(std::this_thread::get_id());
    });
  }
  files.stop();
  CHECK(ran == std::vector<int>{0, 1, 2});
  CHECK(runners.count(std::this_thread::get_id()) == 0);

  std::thread::id late_runner;
  files.post([&late_runner] { late_runner = std::this_thread::get_id(); });
  CHECK(late_runner == std::this_thread::get_id());
  CHECK(files.pending() == 0);
}
