// The server's log lines on stderr: "text" (time, level, message) or "json"
// (one object per line, for log collectors). Thread-safe.
#pragma once

#include <string>

namespace tensorpod::server {

enum class LogFormat { kText, kJson };

void SetLogFormat(LogFormat f);
void LogInfo(const std::string& message);
void LogWarning(const std::string& message);
void LogError(const std::string& message);

// `s` as a JSON string literal, quotes included.
std::string JsonQuote(const std::string& s);

}  // namespace tensorpod::server
