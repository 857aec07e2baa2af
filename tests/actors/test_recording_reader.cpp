// A node's recordings read for another node's call API (actors/recording_reader.hpp), as plain
// calls of read_recording_chunk: bounded chunks that put the file back together byte for byte,
// only the files the call's own view lists, only once the call has ended.
#include "actors/recording_reader.hpp"
#include "support/temporary_directory.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <string>

using namespace switchboard::actors;
using switchboard::testing::read_text;
using switchboard::testing::temporary_directory;

namespace {

/// A call of this node that ended with its files in `directory`.
void end_call(call_directory& calls, const std::filesystem::path& directory) {
  call_view view;
  view.identity.call_sid = "CA1";
  calls.started({}, view);
  calls.ended("CA1", "caller hung up", directory, {"stereo.wav", "call.json"},
              std::chrono::system_clock::now());
}

}  // namespace

TEST_CASE("a recording is read back in bounded chunks byte for byte", "[recording_reader]") {
  temporary_directory root;
  const auto directory = root.path() / "2026-12-06" / "CA1";
  std::filesystem::create_directories(directory);
  // Two whole chunks and a part of a third, every byte value.
  std::string stereo(2 * recording_chunk_bytes + 1000, '\0');
  for (std::size_t i = 0; i < stereo.size(); ++i)
    stereo[i] = static_cast<char>(i * 7 % 256);
  std::ofstream(directory / "stereo.wav", std::ios::binary) << stereo;
  std::ofstream(directory / "call.json") << R"({"call_sid":"CA1"})";
  call_directory calls;
  end_call(calls, directory);

  std::string back;
  recording_chunk_request request{"node-a", "CA1", "stereo.wav", 0};
  int chunks = 0;
  while (true) {
    const auto chunk = read_recording_chunk(calls, request);
    REQUIRE(chunk.status == 200);
    CHECK(chunk.total == stereo.size());
    CHECK(chunk.bytes.size() <= recording_chunk_bytes);
    back += chunk.bytes;
    request.offset += chunk.bytes.size();
    ++chunks;
    if (request.offset == chunk.total)
      break;
    REQUIRE_FALSE(chunk.bytes.empty());
  }
  CHECK(chunks == 3);
  CHECK(back == stereo);
  // At the end: an empty chunk; past it: 416.
  CHECK(read_recording_chunk(calls, request).bytes.empty());
  request.offset += 1;
  CHECK(read_recording_chunk(calls, request).status == 416);
  CHECK(read_recording_chunk(calls, {"node-a", "CA1", "call.json", 0}).bytes ==
        read_text(directory / "call.json"));
}

TEST_CASE("only an ended call's own files are read", "[recording_reader]") {
  temporary_directory root;
  const auto directory = root.path() / "2026-12-06" / "CA1";
  std::filesystem::create_directories(directory);
  std::ofstream(directory / "stereo.wav") << "RIFF";
  std::ofstream(root.path() / "secret.txt") << "not a recording";
  call_directory calls;
  call_view live;
  live.identity.call_sid = "CA2";
  calls.started({}, live);
  end_call(calls, directory);

  CHECK(read_recording_chunk(calls, {"n", "CA9", "stereo.wav", 0}).status == 404);
  CHECK(read_recording_chunk(calls, {"n", "CA2", "stereo.wav", 0}).status == 409);
  // Names the call did not write, however they are spelled, are never opened.
  for (const char* name : {"caller.wav", "../../secret.txt", "../secret.txt", "", "."}) {
    INFO(name);
    const auto chunk = read_recording_chunk(calls, {"n", "CA1", name, 0});
    CHECK(chunk.status == 404);
    CHECK(chunk.bytes.empty());
  }
  // Listed but gone (uploaded to the bucket and deleted here): 404, the asker goes to the bucket.
  std::filesystem::remove(directory / "stereo.wav");
  CHECK(read_recording_chunk(calls, {"n", "CA1", "stereo.wav", 0}).status == 404);
}
