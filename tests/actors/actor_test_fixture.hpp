#pragma once
// Deterministic actor tests: CAF 0.17's test_coordinator (scheduler.policy = testing) runs
// actors only when the test says so and keeps a virtual clock, so 20 ms ticks and barge-in
// sequences are checked without sleeping or real time.

#include "actors/bridge_environment.hpp"
#include "net/websocket.hpp"
#include "support/temporary_directory.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace switchboard::actors::testing {

using switchboard::testing::temporary_directory;

inline caf::actor_system_config& deterministic(caf::actor_system_config& config) {
  config.set("scheduler.policy", caf::atom("testing"));
  config.set("logger.file-verbosity", caf::atom("quiet"));
  return config;
}

struct actor_fixture {
  caf::actor_system_config config;
  caf::actor_system system{deterministic(config)};
  caf::scheduler::test_coordinator& scheduler =
      dynamic_cast<caf::scheduler::test_coordinator&>(system.scheduler());

  void run() { scheduler.run(); }
  /// Moves the virtual clock forward and runs everything that became due.
  void advance(std::chrono::milliseconds by) {
    scheduler.advance_time(by);
    scheduler.run();
  }
  ~actor_fixture() { run(); }
};

/// A disk that answers when the test says so: jobs queue until run_jobs(), in posting order,
/// as on the node's file thread. Nothing runs on another thread.
class queued_file_work final : public file_work {
 public:
  void post(std::function<void()> job) override { jobs_.push_back(std::move(job)); }
  /// Runs the `count` oldest jobs (all by default; jobs they post wait for the next call).
  std::size_t run_jobs(std::size_t count = static_cast<std::size_t>(-1)) {
    std::size_t ran = 0;
    for (auto queued = jobs_.size(); ran < count && ran < queued; ++ran) {
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      job();
    }
    return ran;
  }
  std::size_t pending() const { return jobs_.size(); }

 private:
  std::deque<std::function<void()>> jobs_;
};

/// A Twilio WebSocket that records what the bridge sends.
class recording_connection final : public net::websocket_connection {
 public:
  void send_text(std::string message) override {
    std::lock_guard lock(mutex_);
    sent_.push_back(std::move(message));
  }
  void close(net::close_code code, std::string reason) override {
    std::lock_guard lock(mutex_);
    closed_ = true;
    close_code_ = code;
    close_reason_ = std::move(reason);
  }
  void abort() override { close(net::close_code::internal_error, "aborted"); }
  std::string remote_endpoint() const override { return "test"; }

  std::vector<std::string> take() {
    std::lock_guard lock(mutex_);
    return std::exchange(sent_, {});
  }
  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  net::close_code close_code() const {
    std::lock_guard lock(mutex_);
    return close_code_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> sent_;
  bool closed_ = false;
  net::close_code close_code_ = net::close_code::normal;
  std::string close_reason_;
};

/// A model reached in memory: records what the session sends; the test plays the server.
class fake_model_links final : public model_link_factory {
 public:
  class link final : public model_link {
   public:
    link(fake_model_links& owner, std::uint32_t id) : owner_(owner), id_(id) {}
    void send(std::string text) override {
      owner_.sent_on[id_].push_back(text);
      owner_.sent.push_back(std::move(text));
    }
    void close() override {
      ++owner_.closes;
      owner_.closed_links.push_back(id_);
    }

   private:
    fake_model_links& owner_;
    std::uint32_t id_;
  };

  std::shared_ptr<model_link> open(openai_session_actor opened_for, std::uint32_t id) override {
    session = opened_for;
    link_id = id;
    ++opens;
    return std::make_shared<link>(*this, id);
  }

  /// The server's side: events arrive at the session as the io thread would deliver them.
  void server_sends(const std::string& event) {
    caf::anon_send(session, realtime_frame{link_id, event});
  }
  void connection_event(realtime_link_event::kind what, std::string reason = {}) {
    caf::anon_send(session, realtime_link_event{link_id, what, std::move(reason), 0});
  }
  std::vector<std::string> take() { return std::exchange(sent, {}); }
  /// The same, on the link with this id (the current one and a standby may both be open).
  void server_sends_on(std::uint32_t id, const std::string& event) {
    caf::anon_send(session, realtime_frame{id, event});
  }
  void connection_event_on(std::uint32_t id, realtime_link_event::kind what,
                           std::string reason = {}) {
    caf::anon_send(session, realtime_link_event{id, what, std::move(reason), 0});
  }
  std::vector<std::string> take_on(std::uint32_t id) { return std::exchange(sent_on[id], {}); }

  openai_session_actor session;
  std::uint32_t link_id = 0;
  int opens = 0;
  int closes = 0;
  std::vector<std::string> sent;
  std::map<std::uint32_t, std::vector<std::string>> sent_on;  // by link id
  std::vector<std::uint32_t> closed_links;
};

}  // namespace switchboard::actors::testing
