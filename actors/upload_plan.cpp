#include "actors/upload_plan.hpp"

#include "actors/call_files.hpp"
#include "actors/call_recovery.hpp"
#include "audio/whole_file.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <sstream>

namespace switchboard::actors {

namespace {

constexpr std::size_t max_marker_bytes = std::size_t{16} * 1024;
// call.json stays small (its transcript is in transcript.jsonl); this bounds what a hostile or
// broken file makes the node read.
constexpr std::size_t max_call_json_bytes = std::size_t{4} * 1024 * 1024;

std::optional<std::string> read_bounded(const std::filesystem::path& path, std::size_t bound) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::nullopt;
  std::string text(bound + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > bound)
    return std::nullopt;
  return text;
}

bool file_exists(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

std::string string_field(const boost::json::object& object, std::string_view key) {
  const auto* found = object.if_contains(key);
  return found != nullptr && found->is_string() ? std::string(found->as_string()) : std::string();
}

}  // namespace

std::string_view upload_content_type(std::string_view file_name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 3> types{{
      {".wav", "audio/wav"},
      {".jsonl", "application/x-ndjson"},
      {".json", "application/json"},
  }};
  for (const auto& [suffix, type] : types) {
    if (file_name.ends_with(suffix))
      return type;
  }
  return "application/octet-stream";
}

std::optional<std::string> call_key_base(std::string_view prefix, const std::filesystem::path& root,
                                         const std::filesystem::path& directory) {
  const auto relative = directory.lexically_normal().lexically_relative(root.lexically_normal());
  std::vector<std::string> parts;
  for (const auto& part : relative) {
    const auto text = part.string();
    if (text.empty())
      continue;  // a trailing '/'
    if (text == "." || text == ".." || text.front() == '.')
      return std::nullopt;
    parts.push_back(text);
  }
  if (parts.size() != 2)
    return std::nullopt;
  std::string base(prefix);
  if (!base.empty())
    base += "/";
  return base + parts[0] + "/" + parts[1];
}

std::string call_index_key(std::string_view prefix, std::string_view directory_name) {
  std::string key(prefix);
  if (!key.empty())
    key += "/";
  return key + "calls/" + std::string(directory_name) + ".json";
}

bool is_uploaded_file(std::string_view file_name) {
  return !file_name.empty() && file_name.front() != '.' && file_name != upload_marker_name &&
         file_name != call_marker_name;
}

std::vector<upload_file> plan_call_upload(
    std::string_view base, const std::vector<std::pair<std::string, std::uint64_t>>& listing) {
  std::vector<upload_file> plan;
  for (const auto& [name, size] : listing) {
    if (!is_uploaded_file(name))
      continue;
    plan.push_back(
        {name, std::string(base) + "/" + name, std::string(upload_content_type(name)), size});
  }
  std::sort(plan.begin(), plan.end(), [](const upload_file& a, const upload_file& b) {
    const bool a_last = a.name == "call.json";
    const bool b_last = b.name == "call.json";
    return a_last != b_last ? b_last : a.name < b.name;
  });
  return plan;
}

std::vector<upload_file> plan_call_upload(std::string_view base,
                                          const std::filesystem::path& directory) {
  std::vector<std::pair<std::string, std::uint64_t>> listing;
  std::error_code ec;
  for (std::filesystem::directory_iterator entry(directory, ec), end; !ec && entry != end;
       entry.increment(ec)) {
    std::error_code entry_ec;
    if (!entry->is_regular_file(entry_ec))
      continue;
    const auto size = entry->file_size(entry_ec);
    if (entry_ec)
      continue;
    listing.emplace_back(entry->path().filename().string(), size);
  }
  return plan_call_upload(base, listing);
}

std::string bucket_url(std::string_view bucket, std::string_view key) {
  return "s3://" + std::string(bucket) + "/" + std::string(key);
}

std::optional<std::pair<std::string, std::string>> split_bucket_url(std::string_view url) {
  constexpr std::string_view scheme = "s3://";
  if (!url.starts_with(scheme))
    return std::nullopt;
  url.remove_prefix(scheme.size());
  const auto slash = url.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == url.size())
    return std::nullopt;
  return std::pair{std::string(url.substr(0, slash)), std::string(url.substr(slash + 1))};
}

std::string upload_marker_json(const upload_marker& marker) {
  boost::json::object object{{"node", marker.node}};
  if (!marker.failed.empty())
    object["failed"] = marker.failed;
  return boost::json::serialize(object) + "\n";
}

std::optional<upload_marker> parse_upload_marker(std::string_view text) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(text, ec);
  if (ec || !value.is_object())
    return std::nullopt;
  const auto& object = value.as_object();
  upload_marker marker{string_field(object, "node"), string_field(object, "failed")};
  if (marker.node.empty())
    return std::nullopt;
  return marker;
}

std::optional<upload_marker> read_upload_marker(const std::filesystem::path& directory) {
  const auto text = read_bounded(directory / upload_marker_name, max_marker_bytes);
  if (!text)
    return std::nullopt;
  return parse_upload_marker(*text);
}

std::string write_upload_marker(const std::filesystem::path& directory,
                                const upload_marker& marker) {
  auto written =
      audio::write_whole_file((directory / upload_marker_name).string(), upload_marker_json(marker),
                              audio::if_file_exists::replace);
  return written ? std::string{} : written.error().message;
}

std::string ensure_upload_marker(const std::filesystem::path& directory,
                                 std::string_view node_name) {
  if (read_upload_marker(directory))
    return {};  // pending already, or given up with its reason: either way the next start acts
  return write_upload_marker(directory, upload_marker{std::string(node_name), ""});
}

void remove_upload_marker(const std::filesystem::path& directory) {
  std::error_code ec;
  std::filesystem::remove(directory / upload_marker_name, ec);
}

std::vector<std::filesystem::path> find_pending_uploads(const std::filesystem::path& root,
                                                        std::string_view node_name) {
  std::vector<std::filesystem::path> found;
  for (auto& directory : call_directories(root)) {
    if (!file_exists(directory / upload_marker_name) || !file_exists(directory / "call.json"))
      continue;
    const auto marker = read_upload_marker(directory);
    if (marker && marker->node == node_name)
      found.push_back(std::move(directory));
  }
  return found;
}

std::chrono::milliseconds upload_backoff(const upload_retry_policy& policy, unsigned failures,
                                         double unit_random) {
  const double first = static_cast<double>(policy.first_delay.count());
  const double cap = static_cast<double>(policy.max_delay.count());
  // 2^(failures-1), without overflowing for a large count.
  const double doubled = first * std::pow(2.0, std::min(failures == 0 ? 0U : failures - 1, 30U));
  const double capped = std::min(doubled, cap);
  const double unit = std::clamp(unit_random, 0.0, 1.0);
  const double jittered = capped * (1.0 + policy.jitter * (2.0 * unit - 1.0));
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::max(0.0, jittered)));
}

std::string record_uploads_in_call_json(const std::filesystem::path& path,
                                        const std::map<std::string, std::string>& uploaded) {
  const auto text = read_bounded(path, max_call_json_bytes);
  if (!text)
    return "cannot read " + path.string();
  boost::system::error_code ec;
  auto summary = boost::json::parse(*text, ec);
  if (ec || !summary.is_object())
    return path.string() + " is not a JSON object";
  // Merged into what an earlier process recorded: it may have deleted some local copies before
  // it died, and those are no longer in the plan of this one.
  boost::json::object where;
  if (const auto* before = summary.as_object().if_contains("uploaded");
      before != nullptr && before->is_object())
    where = before->as_object();
  for (const auto& [file, url] : uploaded)
    where[file] = url;
  summary.as_object()["uploaded"] = std::move(where);
  const auto content = boost::json::serialize(summary) + "\n";
  if (auto written =
          audio::write_whole_file(path.string(), content, audio::if_file_exists::replace);
      !written)
    return "cannot rewrite " + path.string() + ": " + written.error().message;
  return {};
}

std::optional<std::string> uploaded_url_of(std::string_view call_json_text, std::string_view file) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(call_json_text, ec);
  if (ec || !value.is_object())
    return std::nullopt;
  const auto* uploaded = value.as_object().if_contains("uploaded");
  if (uploaded == nullptr || !uploaded->is_object())
    return std::nullopt;
  const auto* url = uploaded->as_object().if_contains(file);
  if (url == nullptr || !url->is_string())
    return std::nullopt;
  return std::string(url->as_string());
}

}  // namespace switchboard::actors
