#include "actors/call_files.hpp"

#include "actors/call_recovery.hpp"
#include "audio/whole_file.hpp"

#include <algorithm>
#include <cctype>

namespace switchboard::actors {

std::vector<std::filesystem::path> call_directories(const std::filesystem::path& root) {
  std::vector<std::filesystem::path> days;
  std::error_code ec;
  for (std::filesystem::directory_iterator day(root, ec), end; !ec && day != end;
       day.increment(ec)) {
    if (day->is_directory(ec))
      days.push_back(day->path());
  }
  std::sort(days.begin(), days.end());
  std::vector<std::filesystem::path> found;
  for (const auto& day : days) {
    std::vector<std::filesystem::path> calls;
    std::error_code day_ec;
    for (std::filesystem::directory_iterator call(day, day_ec), end; !day_ec && call != end;
         call.increment(day_ec)) {
      std::error_code type_ec;
      if (call->is_directory(type_ec))
        calls.push_back(call->path());
    }
    std::sort(calls.begin(), calls.end());
    found.insert(found.end(), calls.begin(), calls.end());
  }
  return found;
}

std::filesystem::path make_call_directory(const std::filesystem::path& root,
                                          const std::string& date, const std::string& call_sid,
                                          std::string& error, std::uint32_t part) {
  std::error_code ec;
  const auto day = root / date;
  std::filesystem::create_directories(day, ec);
  if (ec) {
    error = "cannot create " + day.string() + ": " + ec.message();
    return {};
  }
  std::string safe_sid;
  for (const char c : call_sid) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0)
      safe_sid.push_back(c);
  }
  if (safe_sid.empty())
    safe_sid = "call";
  if (part > 1)
    safe_sid += "-part" + std::to_string(part);
  for (int attempt = 1; attempt < 1000; ++attempt) {
    auto candidate = day / (attempt == 1 ? safe_sid : safe_sid + "-" + std::to_string(attempt));
    if (std::filesystem::create_directory(candidate, ec))
      return candidate;
    if (ec) {
      error = "cannot create " + candidate.string() + ": " + ec.message();
      return {};
    }
  }
  error = "too many directories for call " + call_sid;
  return {};
}

std::string write_new_file(const std::filesystem::path& path, const std::string& content) {
  auto written = audio::write_whole_file(path.string(), content, audio::if_file_exists::fail);
  return written ? std::string() : written.error().message;
}

deferred_write_result write_deferred_call_files(deferred_call_files& pending) {
  deferred_write_result result;
  if (pending.files.empty())
    return result;
  if (pending.directory.empty()) {
    std::string error;
    const auto made =
        make_call_directory(pending.root, pending.date, pending.call_sid, error, pending.part);
    if (made.empty()) {
      result.error = error;
      return result;
    }
    pending.directory = made.string();
  }
  const std::filesystem::path directory(pending.directory);
  auto file = pending.files.begin();
  for (; file != pending.files.end(); ++file) {
    auto written = audio::write_whole_file((directory / file->first).string(), file->second,
                                           audio::if_file_exists::fail);
    if (written) {
      result.written.push_back(file->first);
      if (file->first == "call.json")
        remove_call_marker(directory);  // the call is finished on disk
    } else if (written.error().code == audio::wav_errc::already_exists) {
      // Someone else's file under that name: never replaced, and trying again will not help.
      result.dropped.push_back(file->first);
    } else {
      result.error = written.error().message;
      break;
    }
  }
  pending.files.erase(pending.files.begin(), file);
  return result;
}

}  // namespace switchboard::actors
