#include "test_util.h"

#include "tokenizer/unicode.h"

namespace ag::tok::test {

std::string gpt2_char(uint8_t byte) { return gpt2_byte_to_utf8()[byte]; }

}  // namespace ag::tok::test
