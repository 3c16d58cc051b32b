#include "weighbridge/alerting/signing.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

namespace weighbridge::alerting {
namespace {

// RFC 4231 test case 2: a published HMAC-SHA256 value, independent of our code.
TEST(Signing, Rfc4231Case2) {
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// RFC 4231 test case 6: a key longer than the block size is hashed first.
TEST(Signing, Rfc4231Case6LongKey) {
  EXPECT_EQ(HmacSha256Hex(std::string(131, '\xaa'),
                          "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// The header over "<t>.<body>", checked against the openssl command line at test time.
TEST(Signing, HeaderMatchesOpensslCli) {
  const std::string secret = "s3cr3t-with-symbols_+/=";
  const std::string body = R"({"id":"00000000000000ff","version":2,"kind":"weight_transfer"})";
  const std::int64_t t = 1767225600;
  const std::string value = SignatureHeaderValue(secret, t, body);
  ASSERT_EQ(value.rfind("t=1767225600,v1=", 0), 0u) << value;

  const std::string path = ::testing::TempDir() + "/signing_input.txt";
  {
    std::ofstream out(path, std::ios::binary);
    out << t << "." << body;
  }
  const std::string cmd =
      "openssl dgst -sha256 -hmac '" + secret + "' -r '" + path + "' 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) GTEST_SKIP() << "cannot run openssl";
  std::array<char, 256> buf{};
  const std::size_t n = std::fread(buf.data(), 1, buf.size() - 1, p);
  const int rc = pclose(p);
  std::remove(path.c_str());
  if (rc != 0 || n < 64) GTEST_SKIP() << "openssl dgst unavailable (rc " << rc << ")";
  const std::string expected(buf.data(), 64);  // `-r`: "<hex> *file"
  EXPECT_EQ(value.substr(value.find("v1=") + 3), expected);
}

TEST(Signing, TimestampIsPartOfTheMac) {
  EXPECT_NE(SignatureHeaderValue("k", 100, "{}").substr(6),
            SignatureHeaderValue("k", 101, "{}").substr(6));
}

}  // namespace
}  // namespace weighbridge::alerting
