#include "actors/call_status_book.hpp"

#include "audio/whole_file.hpp"
#include "metrics/call_log.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <fstream>
#include <sstream>

namespace switchboard::actors {

namespace {

struct status_name {
  std::string_view text;
  twilio_call_status status;
};

constexpr std::array<status_name, 8> status_names{{
    {"queued", twilio_call_status::queued},
    {"ringing", twilio_call_status::ringing},
    {"in-progress", twilio_call_status::in_progress},
    {"completed", twilio_call_status::completed},
    {"busy", twilio_call_status::busy},
    {"no-answer", twilio_call_status::no_answer},
    {"failed", twilio_call_status::failed},
    {"canceled", twilio_call_status::canceled},
}};

std::string_view value_of(std::span<const net::form_parameter> params, std::string_view name) {
  for (const auto& param : params) {
    if (param.name == name)
      return param.value;
  }
  return {};
}

/// An optional unsigned field: absent or empty is nullopt; anything but digits is an error.
boost::system::result<std::optional<std::uint64_t>, std::string> optional_count(
    std::span<const net::form_parameter> params, std::string_view name) {
  const auto text = value_of(params, name);
  if (text.empty())
    return std::optional<std::uint64_t>{};
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size())
    return std::string(name) + " is not a whole number: " + std::string(text);
  return std::optional<std::uint64_t>{value};
}

}  // namespace

std::string_view to_string(twilio_call_status status) {
  for (const auto& name : status_names) {
    if (name.status == status)
      return name.text;
  }
  return "queued";
}

std::optional<twilio_call_status> parse_twilio_call_status(std::string_view text) {
  if (text == "initiated")
    return twilio_call_status::queued;
  for (const auto& name : status_names) {
    if (name.text == text)
      return name.status;
  }
  return std::nullopt;
}

bool is_final(twilio_call_status status) {
  return progress_rank(status) == 3;
}

int progress_rank(twilio_call_status status) {
  switch (status) {
    case twilio_call_status::queued:
      return 0;
    case twilio_call_status::ringing:
      return 1;
    case twilio_call_status::in_progress:
      return 2;
    case twilio_call_status::completed:
    case twilio_call_status::busy:
    case twilio_call_status::no_answer:
    case twilio_call_status::failed:
    case twilio_call_status::canceled:
      break;
  }
  return 3;
}

bool moves_forward(twilio_call_status current, twilio_call_status incoming) {
  return progress_rank(incoming) > progress_rank(current);
}

std::string_view to_string(status_outcome outcome) {
  switch (outcome) {
    case status_outcome::accepted:
      return "accepted";
    case status_outcome::stale:
      return "stale";
    case status_outcome::unknown_call_created:
      return "unknown call";
  }
  return "accepted";
}

boost::system::result<status_callback, std::string> parse_status_callback(
    std::span<const net::form_parameter> params) {
  // Spelled out: status_callback can itself be made from a string (its first member).
  const auto bad = [](std::string why) {
    return boost::system::result<status_callback, std::string>(boost::system::in_place_error,
                                                               std::move(why));
  };
  status_callback callback;
  callback.call_sid = std::string(value_of(params, "CallSid"));
  if (callback.call_sid.empty())
    return bad("CallSid is missing");
  const auto status_text = value_of(params, "CallStatus");
  if (status_text.empty())
    return bad("CallStatus is missing");
  const auto status = parse_twilio_call_status(status_text);
  if (!status)
    return bad("CallStatus is not a call status: " + std::string(status_text));
  callback.status = *status;
  callback.from = std::string(value_of(params, "From"));
  callback.to = std::string(value_of(params, "To"));
  callback.timestamp = std::string(value_of(params, "Timestamp"));
  auto sequence_number = optional_count(params, "SequenceNumber");
  if (!sequence_number)
    return bad(sequence_number.error());
  callback.sequence_number = *sequence_number;
  auto duration = optional_count(params, "CallDuration");
  if (!duration)
    return bad(duration.error());
  callback.call_duration_s = *duration;
  return callback;
}

// ---- call_status_book ---------------------------------------------------------------------

call_status_book::call_status_book(std::size_t capacity, std::shared_ptr<file_work> files)
    : capacity_(capacity == 0 ? 1 : capacity), files_(std::move(files)) {}

call_status_book::entry& call_status_book::insert_locked(std::string call_sid,
                                                         twilio_call_status status,
                                                         time_point now) {
  while (calls_.size() >= capacity_) {
    auto& oldest = !finished_by_age_.empty() ? finished_by_age_ : open_by_age_;
    calls_.erase(oldest.begin()->second);
    oldest.erase(oldest.begin());
  }
  const auto age = next_age_++;
  auto& call = calls_[call_sid];
  call.age = age;
  call.call.call_sid = call_sid;
  call.call.status = status;
  call.call.arrivals.emplace_back(status, now);
  (is_final(status) ? finished_by_age_ : open_by_age_).emplace(age, std::move(call_sid));
  return call;
}

void call_status_book::settle_locked(entry& call, twilio_call_status status) {
  if (is_final(status) && !is_final(call.call.status)) {
    auto node = open_by_age_.extract(call.age);
    if (!node.empty())
      finished_by_age_.insert(std::move(node));
  }
  call.call.status = status;
}

void call_status_book::dialled(std::string call_sid, std::string to, std::string from,
                               twilio_call_status status, time_point now) {
  std::lock_guard lock(mutex_);
  auto found = calls_.find(call_sid);
  entry* call = nullptr;
  if (found == calls_.end()) {
    call = &insert_locked(std::move(call_sid), status, now);
  } else {
    call = &found->second;
    if (moves_forward(call->call.status, status)) {
      settle_locked(*call, status);
      call->call.arrivals.emplace_back(status, now);
    }
  }
  call->call.to = std::move(to);
  call->call.from = std::move(from);
  call->call.dialled_at = now;
}

status_applied call_status_book::apply(const status_callback& callback, time_point now) {
  status_applied applied;
  bool call_json_behind = false;
  {
    std::lock_guard lock(mutex_);
    auto found = calls_.find(callback.call_sid);
    entry* call = nullptr;
    if (found == calls_.end()) {
      call = &insert_locked(callback.call_sid, callback.status, now);
      applied.outcome = status_outcome::unknown_call_created;
    } else {
      call = &found->second;
      if (moves_forward(call->call.status, callback.status)) {
        settle_locked(*call, callback.status);
        call->call.arrivals.emplace_back(callback.status, now);
        applied.outcome = status_outcome::accepted;
      } else {
        applied.outcome = status_outcome::stale;
      }
    }
    auto& known = call->call;
    if (known.to.empty())
      known.to = callback.to;
    if (known.from.empty())
      known.from = callback.from;
    if (callback.sequence_number &&
        (!known.sequence_number || *callback.sequence_number > *known.sequence_number))
      known.sequence_number = callback.sequence_number;
    if (applied.outcome != status_outcome::stale) {
      known.twilio_timestamp = callback.timestamp;
      if (callback.call_duration_s)
        known.call_duration_s = callback.call_duration_s;
    }
    applied.status = known.status;
    call_json_behind = !known.call_json.empty() && call->in_call_json != known.status;
  }
  if (call_json_behind && !files_) {
    applied.call_json_error = sync_call_json(callback.call_sid);
  } else if (call_json_behind) {
    files_->post([book = weak_from_this(), call_sid = callback.call_sid] {
      const auto alive = book.lock();
      if (!alive)
        return;
      if (auto error = alive->sync_call_json(call_sid); !error.empty())
        metrics::log_call(spdlog::level::warn, {call_sid, {}},
                          "call.json not brought up to date: {}", error);
    });
  }
  return applied;
}

std::optional<outbound_call_status> call_status_book::find(std::string_view call_sid) const {
  std::lock_guard lock(mutex_);
  const auto found = calls_.find(call_sid);
  if (found == calls_.end())
    return std::nullopt;
  return found->second.call;
}

std::vector<outbound_call_status> call_status_book::unfinished() const {
  std::lock_guard lock(mutex_);
  std::vector<outbound_call_status> out;
  out.reserve(open_by_age_.size());
  for (const auto& [age, call_sid] : open_by_age_)
    out.push_back(calls_.find(call_sid)->second.call);
  return out;
}

std::size_t call_status_book::size() const {
  std::lock_guard lock(mutex_);
  return calls_.size();
}

std::optional<twilio_call_status> call_status_book::status_of(std::string_view call_sid) const {
  std::lock_guard lock(mutex_);
  const auto found = calls_.find(call_sid);
  if (found == calls_.end())
    return std::nullopt;
  return found->second.call.status;
}

std::string call_status_book::call_json_written(std::string_view call_sid,
                                                std::filesystem::path path,
                                                std::optional<twilio_call_status> written) {
  {
    std::lock_guard lock(mutex_);
    const auto found = calls_.find(call_sid);
    if (found == calls_.end())
      return {};
    found->second.call.call_json = std::move(path);
    found->second.in_call_json = written;
    // A callback that came between status_of() and now saw no file to rewrite: catch up here.
    if (found->second.in_call_json == found->second.call.status)
      return {};
  }
  return sync_call_json(call_sid);
}

std::string call_status_book::sync_call_json(std::string_view call_sid) {
  // Whoever holds rewrite_mutex_ reads the status after taking it, so the last file written
  // carries the latest status, however the rewrites of two callbacks interleave.
  std::lock_guard rewriting(rewrite_mutex_);
  std::filesystem::path path;
  twilio_call_status status{};
  {
    std::lock_guard lock(mutex_);
    const auto found = calls_.find(call_sid);
    if (found == calls_.end() || found->second.call.call_json.empty() ||
        found->second.in_call_json == found->second.call.status)
      return {};
    path = found->second.call.call_json;
    status = found->second.call.status;
  }
  if (preparing_)
    preparing_(path);
  auto error = rewrite_twilio_status(path, status);
  if (error.empty()) {
    {
      std::lock_guard lock(mutex_);
      if (const auto found = calls_.find(call_sid); found != calls_.end())
        found->second.in_call_json = status;
    }
    if (rewritten_)
      rewritten_(std::string(call_sid), path);
  }
  return error;
}

std::string rewrite_twilio_status(const std::filesystem::path& path, twilio_call_status status) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return "cannot read " + path.string();
  std::ostringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto summary = boost::json::parse(text.str(), ec);
  if (ec || !summary.is_object())
    return path.string() + " is not a JSON object";
  summary.as_object()["twilio_status"] = to_string(status);
  const auto content = boost::json::serialize(summary) + "\n";

  // Whole or not at all, through the file layer's fault switch like the call's other files:
  // readers see the old call.json or the new one, never a mix.
  if (auto written =
          audio::write_whole_file(path.string(), content, audio::if_file_exists::replace);
      !written)
    return "cannot rewrite " + path.string() + ": " + written.error().message;
  return {};
}

}  // namespace switchboard::actors
