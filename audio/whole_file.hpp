#pragma once
// Small files written whole or not at all (call.json, transcript.jsonl): the content goes to a
// hidden temporary file beside the target, is synced, and only then takes the target's name.
// A full disk, a crash or a kill at any moment leaves either no file or the whole file under the
// final name — never an empty or cut-off one (a torn call.json is worse than none: readers
// trust what parses). A temporary file left by a crash is hidden (".call.json.<pid>.<n>.partial")
// and never mistaken for the real one.
//
// The writes go through the file layer's fault switch (disk_fault.hpp), so tests can fill the
// disk under them.

#include "audio/wav_error.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard::audio {

enum class if_file_exists : std::uint8_t {
  fail,     // the target must not exist (link(2): an existing file is never replaced)
  replace,  // rename(2) replaces it in one step: readers see the old or the new, never a mix
};

/// Writes `content` to `path` as described above; returns the bytes now on disk under `path`.
/// Errors name `path`. After an error nothing new is left under `path` or a temporary name.
wav_result<std::uint64_t> write_whole_file(const std::string& path, std::string_view content,
                                           if_file_exists existing);

}  // namespace switchboard::audio
