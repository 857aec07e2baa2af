// The files a call leaves beside its recordings on a disk that fills: call.json rewritten for a
// later Twilio status is replaced whole or left as it was.
#include "actors/call_status_book.hpp"
#include "audio/disk_fault.hpp"
#include "support/temporary_directory.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace switchboard;
using switchboard::testing::temporary_directory;

namespace {

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("a call.json rewrite on a full disk leaves the file as it was and says why",
          "[call_status_book][disk_fault]") {
  temporary_directory directory;
  const auto call_json = directory.write(
      "call.json", "{\"call_sid\":\"CA1\",\"padding\":\"" + std::string(2000, 'p') + "\"}\n");
  const auto before = read_text(call_json);
  {
    audio::set_disk_fault({.enospc_after_bytes = 100});
    const auto error =
        actors::rewrite_twilio_status(call_json, actors::twilio_call_status::completed);
    audio::clear_disk_fault();
    CHECK(error.find(call_json.string()) != std::string::npos);
    CHECK(error.find("No space left on device") != std::string::npos);
  }
  CHECK(read_text(call_json) == before);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(directory.path()))
    ++entries;
  CHECK(entries == 1);  // no temporary file left beside it

  CHECK(actors::rewrite_twilio_status(call_json, actors::twilio_call_status::completed).empty());
  const auto after = boost::json::parse(read_text(call_json)).as_object();
  CHECK(after.at("twilio_status").as_string() == "completed");
}
