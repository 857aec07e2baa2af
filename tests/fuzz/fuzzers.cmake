# The libFuzzer targets: one line each. Read by the main build (to register a CTest test per
# target) and by project/ (to build it with clang). A target <name> needs <name>.cpp next to
# this file and seed inputs in seeds/<name>/; SOURCES are paths from the repository root.
switchboard_fuzzer(fuzz_twilio_messages SOURCES net/twilio_messages.cpp net/wire_json.cpp net/base64.cpp)
switchboard_fuzzer(fuzz_realtime_events SOURCES net/realtime_messages.cpp net/wire_json.cpp net/base64.cpp)
switchboard_fuzzer(fuzz_twilio_signature SOURCES net/twilio_signature.cpp net/base64.cpp)
switchboard_fuzzer(fuzz_wav_header SOURCES audio/wav_format.cpp audio/wav_error.cpp audio/posix_file.cpp)
switchboard_fuzzer(fuzz_dotenv SOURCES config/dotenv.cpp config/read_file.cpp config/error.cpp)
switchboard_fuzzer(fuzz_twiml SOURCES net/twiml.cpp)
