# embed_bytes(FILE BYTES_VAR SIZE_VAR): the bytes of FILE as a C++ initialiser list
# ("0x12,0x34,...," with a trailing comma) and their count. Shared by the scripts that compile
# files into the binary (embed_fixtures.cmake, web/embed_assets.cmake).
function(embed_bytes file bytes_var size_var)
  file(READ "${file}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  set(${bytes_var} "${bytes}" PARENT_SCOPE)
  set(${size_var} "${size}" PARENT_SCOPE)
endfunction()
