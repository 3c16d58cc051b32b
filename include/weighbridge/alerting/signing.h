// Webhook signatures (ARCHITECTURE.md, "Webhooks"): receivers authenticate a POST and reject
// replays with `X-Weighbridge-Signature: t=UNIX_SECONDS,v1=HEX`, where HEX is HMAC-SHA256 with
// the shared secret over "<t>.<body>". Putting t inside the MAC is what makes an old capture of a
// request useless once the receiver's tolerance window has passed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace weighbridge::alerting {

inline constexpr std::string_view kSignatureHeader = "X-Weighbridge-Signature";
inline constexpr std::string_view kIdempotencyHeader = "Idempotency-Key";
// The version of the alert JSON carried in a webhook body; raised when a field changes meaning.
inline constexpr std::string_view kSchemaHeader = "X-Weighbridge-Schema-Version";
inline constexpr std::string_view kSchemaVersion = "1";

// Lowercase hex of HMAC-SHA256(key, message).
std::string HmacSha256Hex(std::string_view key, std::string_view message);

// The value of the signature header: "t=<unix_seconds>,v1=<hex>".
std::string SignatureHeaderValue(std::string_view secret, std::int64_t unix_seconds,
                                 std::string_view body);

}  // namespace weighbridge::alerting
