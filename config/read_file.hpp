#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace switchboard::config {

// The whole contents of a regular file, or nullopt with `problem` set to why it could not be
// read (e.g. "not found", "not a regular file", "Permission denied"). Used for .env and
// OPENAI_INSTRUCTIONS_FILE; throws nothing.
std::optional<std::string> read_text_file(const std::filesystem::path& path, std::string& problem);

}  // namespace switchboard::config
