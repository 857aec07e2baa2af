#include "actors/call_file_retries.hpp"

#include <algorithm>

namespace switchboard::actors {

std::size_t call_file_retries::size_of(const deferred_call_files& batch) {
  std::size_t bytes = batch.directory.size() + batch.root.size() + batch.call_sid.size();
  for (const auto& [name, content] : batch.files)
    bytes += name.size() + content.size();
  return bytes;
}

bool call_file_retries::add(deferred_call_files batch, clock::time_point now) {
  const auto bytes = size_of(batch);
  if (bytes_ + bytes > limits_.max_bytes)
    return false;
  bytes_ += bytes;
  batches_.push_back(waiting{std::move(batch), bytes, 0, now + limits_.first_delay});
  return true;
}

call_file_retries::clock::duration call_file_retries::delay_after(unsigned failures) const {
  auto delay = limits_.first_delay;
  for (unsigned n = 1; n < failures && delay < limits_.max_delay; ++n)
    delay *= 2;
  return std::min(delay, limits_.max_delay);
}

std::vector<call_file_retries::report> call_file_retries::attempt_due(clock::time_point now,
                                                                      const writer& write,
                                                                      bool everything) {
  std::vector<report> reports;
  for (auto it = batches_.begin(); it != batches_.end();) {
    if (!everything && it->due > now) {
      ++it;
      continue;
    }
    ++it->attempts;
    report done;
    done.result = write(it->batch);
    done.call_sid = it->batch.call_sid;
    done.stream_sid = it->batch.stream_sid;
    done.directory = it->batch.directory;
    done.attempts = it->attempts;
    done.twilio_status = it->batch.twilio_status;
    done.finished = it->batch.files.empty();
    bytes_ -= it->bytes;
    if (done.finished) {
      it = batches_.erase(it);
    } else {
      it->bytes = size_of(it->batch);
      bytes_ += it->bytes;
      it->due = now + delay_after(it->attempts);
      ++it;
    }
    reports.push_back(std::move(done));
  }
  return reports;
}

std::optional<call_file_retries::clock::time_point> call_file_retries::next_due() const {
  std::optional<clock::time_point> earliest;
  for (const auto& batch : batches_) {
    if (!earliest || batch.due < *earliest)
      earliest = batch.due;
  }
  return earliest;
}

std::vector<deferred_call_files> call_file_retries::take_all() {
  std::vector<deferred_call_files> all;
  for (auto& batch : batches_)
    all.push_back(std::move(batch.batch));
  batches_.clear();
  bytes_ = 0;
  return all;
}

}  // namespace switchboard::actors
