#pragma once
// Repair of a WAV file whose writer died (killed process, full disk): the audio is in the file
// but the header still states the length of the last checkpoint (see wav_writer.hpp). Repair
// checks the file is RIFF/WAVE with a fmt chunk in a format we read, finds the data chunk,
// takes the real data length from the file length (rounded down to whole sample frames), and
// rewrites only the size fields in place: RIFF size, fact sample count (if present) and data
// size. Audio bytes are never touched, nothing is appended. A consistent file is left untouched
// and opened read-only.
//
// Bytes after the data chunk count as audio unless the RIFF size declares them (chunks such as
// LIST that other tools write after the data are kept; our writer never writes any).

#include "audio/wav_error.hpp"

#include <cstdint>
#include <string>

namespace switchboard::audio {

struct repair_report {
  std::string path;
  std::uint64_t old_data_bytes = 0;  // the data size field before repair
  std::uint64_t new_data_bytes = 0;  // the data size field after repair
  bool changed = false;              // false: "already consistent", the file was not written
  std::string summary;               // e.g. "data size 8000 -> 12000 bytes"
};

wav_result<repair_report> repair_wav(const std::string& path);

}  // namespace switchboard::audio
