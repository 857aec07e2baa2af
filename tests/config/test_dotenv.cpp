#include "config/dotenv.hpp"
#include "tests/config/temporary_directory.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace switchboard::config {
namespace {

std::vector<dotenv_entry> parse_ok(std::string_view text) {
  auto parsed = parse_dotenv(text, ".env");
  if (!parsed) {
    FAIL(format_errors(parsed.error()));
  }
  return *parsed;
}

std::string single_value(std::string_view text) {
  const auto entries = parse_ok(text);
  REQUIRE(entries.size() == 1);
  return entries.front().value;
}

}  // namespace

TEST_CASE("dotenv: plain KEY=VALUE lines keep their order and line numbers") {
  const auto entries = parse_ok("PORT=5050\nLOG_LEVEL=debug\n");
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].key == "PORT");
  CHECK(entries[0].value == "5050");
  CHECK(entries[0].line == 1);
  CHECK(entries[1].key == "LOG_LEVEL");
  CHECK(entries[1].value == "debug");
  CHECK(entries[1].line == 2);
}

TEST_CASE("dotenv: comments and blank lines are skipped but still counted") {
  const auto entries = parse_ok("# a comment\n\n   \n\t# indented comment\nPORT=1\n");
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].key == "PORT");
  CHECK(entries[0].line == 5);
}

TEST_CASE("dotenv: whitespace around the key and before the value is trimmed") {
  const auto entries = parse_ok("  PORT =  5050  \n");
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].key == "PORT");
  CHECK(entries[0].value == "5050");
}

TEST_CASE("dotenv: the export prefix is ignored") {
  const auto entries = parse_ok("export PORT=5050\nexport\tLOG_LEVEL=warn\nexport=1\n");
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].key == "PORT");
  CHECK(entries[0].value == "5050");
  CHECK(entries[1].key == "LOG_LEVEL");
  // "export" followed by "=" is a key named export, not the prefix.
  CHECK(entries[2].key == "export");
  CHECK(entries[2].value == "1");
}

TEST_CASE("dotenv: quotes are stripped") {
  CHECK(single_value("KEY='single quoted'") == "single quoted");
  CHECK(single_value("KEY=\"double quoted\"") == "double quoted");
  CHECK(single_value("KEY=''") == "");
  CHECK(single_value("KEY=\"\"") == "");
  CHECK(single_value("KEY=") == "");
  CHECK(single_value("KEY='  padded  '") == "  padded  ");
  CHECK(single_value("KEY=\"a # not a comment\"") == "a # not a comment");
  CHECK(single_value("KEY='quoted' # trailing comment") == "quoted");
}

TEST_CASE("dotenv: double quotes take escapes (newline, quote, backslash), single quotes do not") {
  CHECK(single_value(R"(KEY="line one\nline two")") == "line one\nline two");
  CHECK(single_value(R"(KEY="say \"hi\"")") == "say \"hi\"");
  CHECK(single_value(R"(KEY="back\\slash")") == "back\\slash");
  CHECK(single_value(R"(KEY="C:\path")") == "C:\\path");
  CHECK(single_value(R"(KEY='no\nescape')") == "no\\nescape");
}

TEST_CASE("dotenv: unquoted values end at a comment that follows whitespace") {
  CHECK(single_value("KEY=value # comment") == "value");
  CHECK(single_value("KEY=pa#ss") == "pa#ss");
  CHECK(single_value("KEY=https://example.com/a?b=c") == "https://example.com/a?b=c");
}

TEST_CASE("dotenv: CRLF line endings are accepted") {
  const auto entries = parse_ok("PORT=5050\r\n# c\r\nLOG_LEVEL=\"debug\"\r\nKEY='x'\r\n");
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].value == "5050");
  CHECK(entries[1].value == "debug");
  CHECK(entries[1].line == 3);
  CHECK(entries[2].value == "x");
}

TEST_CASE("dotenv: a UTF-8 byte order mark does not become part of the first key") {
  const auto entries = parse_ok("\xEF\xBB\xBFPORT=1\n");
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].key == "PORT");
}

TEST_CASE("dotenv: a duplicate key is kept twice so the later one wins when applied") {
  const auto entries = parse_ok("PORT=1\nPORT=2\n");
  REQUIRE(entries.size() == 2);
  CHECK(entries[1].value == "2");
  CHECK(entries[1].line == 2);
}

TEST_CASE("dotenv: a malformed line is an error naming the file and the line number") {
  const auto parsed = parse_dotenv("PORT=5050\n# ok\nthis is not a setting\n", "config/.env");
  REQUIRE_FALSE(parsed.has_value());
  const auto& errors = parsed.error().errors;
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].code == errc::malformed_line);
  CHECK(errors[0].message == "config/.env line 3: expected KEY=VALUE");
}

TEST_CASE("dotenv: every malformed line is reported, none quotes the line") {
  const auto parsed = parse_dotenv(
      "1BAD=x\n"
      "GOOD=1\n"
      "UNTERMINATED=\"sk-secret-double\n"
      "UNTERMINATED2='sk-secret-single\n"
      "TRAILING=\"sk-secret-a\"sk-secret-b\n"
      "BAD KEY=x\n"
      "=novalue\n",
      ".env");
  REQUIRE_FALSE(parsed.has_value());
  const auto& errors = parsed.error().errors;
  REQUIRE(errors.size() == 6);
  CHECK(errors[0].message.starts_with(".env line 1: invalid key"));
  CHECK(errors[1].message == ".env line 3: unterminated double-quoted value");
  CHECK(errors[2].message == ".env line 4: unterminated single-quoted value");
  CHECK(errors[3].message == ".env line 5: unexpected text after the closing quote");
  CHECK(errors[4].message.starts_with(".env line 6: invalid key"));
  CHECK(errors[5].message.starts_with(".env line 7: invalid key"));
  const auto text = format_errors(parsed.error());
  CHECK(text.find("sk-secret") == std::string::npos);
}

TEST_CASE("dotenv: a missing file gives no entries") {
  const testing::temporary_directory directory;
  const auto read = read_dotenv(directory.path() / ".env");
  REQUIRE(read.has_value());
  CHECK(read->empty());
}

TEST_CASE("dotenv: a file is read from disk, CRLF and all") {
  const testing::temporary_directory directory;
  const auto file = directory.write(".env", "# settings\r\nexport PORT=6000\r\n");
  const auto read = read_dotenv(file);
  REQUIRE(read.has_value());
  REQUIRE(read->size() == 1);
  CHECK((*read)[0].key == "PORT");
  CHECK((*read)[0].value == "6000");
  CHECK((*read)[0].line == 2);
}

TEST_CASE("dotenv: a malformed file on disk names its path") {
  const testing::temporary_directory directory;
  const auto file = directory.write(".env", "PORT=1\noops\n");
  const auto read = read_dotenv(file);
  REQUIRE_FALSE(read.has_value());
  REQUIRE(read.error().errors.size() == 1);
  CHECK(read.error().errors[0].message == file.string() + " line 2: expected KEY=VALUE");
}

TEST_CASE("dotenv: a path that exists but is not a file is an error naming it") {
  const testing::temporary_directory directory;
  std::filesystem::create_directory(directory.path() / ".env");
  const auto read = read_dotenv(directory.path() / ".env");
  REQUIRE_FALSE(read.has_value());
  REQUIRE(read.error().errors.size() == 1);
  CHECK(read.error().errors[0].code == errc::unreadable_file);
  CHECK(read.error().errors[0].message.starts_with((directory.path() / ".env").string()));
}

}  // namespace switchboard::config
