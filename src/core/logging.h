// Logging through spdlog. The level comes from TENSORPOD_LOG_LEVEL
// (trace, debug, info, warn, error, off; default warn) read once at first
// use, and may be changed later with SetLogLevel. Thread-safe.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace tensorpod::internal {

spdlog::logger& Logger();
// Returns false if `level` is not a known level name.
bool SetLogLevel(const std::string& level);

}  // namespace tensorpod::internal

#define TP_LOG_DEBUG(...) ::tensorpod::internal::Logger().debug(__VA_ARGS__)
#define TP_LOG_INFO(...) ::tensorpod::internal::Logger().info(__VA_ARGS__)
#define TP_LOG_WARN(...) ::tensorpod::internal::Logger().warn(__VA_ARGS__)
#define TP_LOG_ERROR(...) ::tensorpod::internal::Logger().error(__VA_ARGS__)
