#pragma once
// A fault switch in the audio library's file layer (posix_file): a test hook, not a setting.
// It lets tests and the chaos benchmark make the recordings disk fill up or turn slow without
// mounting anything. Off by default; nothing in normal operation turns it on.
//
//   enospc-after:BYTES  the files written through this layer (recordings, mixes, call.json,
//                       transcript.jsonl) may grow by BYTES in total, process-wide; past that a
//                       write that would grow a file is cut short and the next one fails with
//                       ENOSPC, as the kernel does on a full disk. Rewrites inside a file's
//                       current size still succeed (a full ext4 lets a WAV header be rewritten).
//   delay-ms:N          every write and every sync through this layer first waits N ms (a slow
//                       or stalled file system). Changing or clearing the fault ends the waits
//                       under way at once, so a test can stall the disk with a long delay and
//                       let it recover when it chooses.
//
// Tests call set_disk_fault()/clear_disk_fault(). A process started with the environment
// variable SWITCHBOARD_FAULT_DISK set (e.g. "enospc-after:200000" or
// "enospc-after:200000,delay-ms:50") starts with that fault; an unreadable value stops the
// process at start-up naming the variable.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::audio {

inline constexpr std::string_view disk_fault_variable = "SWITCHBOARD_FAULT_DISK";

struct disk_fault {
  /// Bytes by which files may still grow before writes fail with ENOSPC; nullopt: no limit.
  std::optional<std::uint64_t> enospc_after_bytes;
  /// Sleep before every write and sync.
  std::chrono::milliseconds delay{0};

  bool operator==(const disk_fault&) const = default;
};

/// Parses "enospc-after:BYTES", "delay-ms:N", or both separated by ','. On error returns nullopt
/// and says why in `error`.
std::optional<disk_fault> parse_disk_fault(std::string_view text, std::string& error);

/// Turns the fault on for the whole process (replacing any earlier one; the byte budget starts
/// afresh).
void set_disk_fault(const disk_fault& fault);
/// Turns it off: writes behave normally again (the disk "empties").
void clear_disk_fault();
/// The fault in force, if any; enospc_after_bytes is the budget left.
std::optional<disk_fault> current_disk_fault();

/// For a test: the fault is on while this lives, and off again however the test ends.
class scoped_disk_fault {
 public:
  explicit scoped_disk_fault(const disk_fault& fault) { set_disk_fault(fault); }
  ~scoped_disk_fault() { clear_disk_fault(); }
  scoped_disk_fault(const scoped_disk_fault&) = delete;
  scoped_disk_fault& operator=(const scoped_disk_fault&) = delete;
};

}  // namespace switchboard::audio
