#pragma once
// The files of ended calls waiting for the disk (a full disk, a quota, an I/O error): each
// call's batch is tried again after a delay that doubles per failure up to a ceiling, for as long
// as the node runs, so that a call that ended while the disk was full still gets its call.json
// once there is room. Memory is bounded: past `max_bytes` a new batch is refused (the caller
// reports it lost) rather than the node growing without end while the disk stays full.
//
// Plain logic, no clock and no I/O of its own: the call_file_retrier actor gives it the time and
// the writer (write_deferred_call_files); tests give it explicit times and a fake writer.

#include "actors/call_files.hpp"
#include "actors/messages.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <vector>

namespace switchboard::actors {

class call_file_retries {
 public:
  using clock = std::chrono::steady_clock;
  struct limits {
    std::size_t max_bytes = std::size_t{64} << 20;
    clock::duration first_delay = std::chrono::seconds(1);
    clock::duration max_delay = std::chrono::seconds(30);
  };
  using writer = std::function<deferred_write_result(deferred_call_files&)>;

  /// What happened to one call's batch in attempt_due.
  struct report {
    std::string call_sid;
    std::string stream_sid;
    std::string directory;         // where they went (made by the writer if it had none)
    deferred_write_result result;  // this try
    unsigned attempts = 0;         // tries so far, this one included
    bool finished = false;         // nothing of the batch is pending any more
    std::string twilio_status;     // as rendered into its call.json
  };

  call_file_retries() : limits_() {}
  explicit call_file_retries(limits bounds) : limits_(bounds) {}

  /// Queues a call's batch, first due at now + first_delay. False when it would take the queue
  /// past max_bytes (nothing is queued; the batch is lost).
  bool add(deferred_call_files batch, clock::time_point now);

  /// Tries every batch due at `now` (every batch when `everything`), oldest first. A batch the
  /// writer finishes leaves the queue; one it does not waits again, twice as long as last time.
  std::vector<report> attempt_due(clock::time_point now, const writer& write,
                                  bool everything = false);

  /// When the earliest batch is due; nullopt when none waits.
  std::optional<clock::time_point> next_due() const;
  std::size_t size() const { return batches_.size(); }
  std::size_t bytes() const { return bytes_; }
  /// Empties the queue, returning what it held (at shutdown: what is lost).
  std::vector<deferred_call_files> take_all();

  /// The delay after the n-th failed try (n >= 1): first_delay doubled per try, at most max_delay.
  clock::duration delay_after(unsigned failures) const;

 private:
  struct waiting {
    deferred_call_files batch;
    std::size_t bytes = 0;
    unsigned attempts = 0;
    clock::time_point due;
  };
  static std::size_t size_of(const deferred_call_files& batch);

  limits limits_;
  std::list<waiting> batches_;  // oldest first
  std::size_t bytes_ = 0;
};

}  // namespace switchboard::actors
