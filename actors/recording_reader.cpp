#include "actors/recording_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

namespace switchboard::actors {

namespace {

recording_chunk refusal(std::uint16_t status, std::string error) {
  recording_chunk chunk;
  chunk.status = status;
  chunk.error = std::move(error);
  return chunk;
}

}  // namespace

recording_chunk read_recording_chunk(const call_directory& calls,
                                     const recording_chunk_request& request) {
  const auto view = calls.find_local(request.call_sid);
  if (!view)
    return refusal(404, "no such call on this node: " + request.call_sid);
  if (view->state != call_state::ended) {
    return refusal(409, "the call is still live: its recordings are complete when it has ended");
  }
  const bool listed =
      std::find(view->files.begin(), view->files.end(), request.file) != view->files.end();
  if (!listed || view->directory.empty())
    return refusal(404, "the call has no file " + request.file);
  const auto path = view->directory / request.file;
  std::error_code ec;
  const auto total = std::filesystem::file_size(path, ec);
  if (ec) {
    // Uploaded to the bucket and deleted here (RECORDINGS_BUCKET_URL), or removed by hand.
    return refusal(404, request.file + " is no longer on this node: " + ec.message());
  }
  if (request.offset > total)
    return refusal(416, "offset past the end of " + request.file);
  recording_chunk chunk;
  chunk.total = total;
  chunk.bytes.resize(static_cast<std::size_t>(
      std::min<std::uint64_t>(total - request.offset, recording_chunk_bytes)));
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(request.offset));
  in.read(chunk.bytes.data(), static_cast<std::streamsize>(chunk.bytes.size()));
  if (!in || static_cast<std::size_t>(in.gcount()) != chunk.bytes.size())
    return refusal(500, "cannot read " + request.file + ": " + std::strerror(errno));
  chunk.status = 200;
  return chunk;
}

recording_reader_actor::behavior_type recording_reader(
    recording_reader_actor::pointer, std::shared_ptr<const call_directory> calls) {
  return {
      [calls](const recording_chunk_request& request) {
        return read_recording_chunk(*calls, request);
      },
  };
}

}  // namespace switchboard::actors
