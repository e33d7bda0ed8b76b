#include "core/logging.h"

#include <cstdlib>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace tensorpod::internal {
namespace {

bool ParseLevel(const std::string& name, spdlog::level::level_enum* out) {
  const auto level = spdlog::level::from_str(name);
  // from_str maps unknown names to "off"; accept "off" only when asked for.
  if (level == spdlog::level::off && name != "off") return false;
  *out = level;
  return true;
}

std::shared_ptr<spdlog::logger> MakeLogger() {
  auto logger = spdlog::stderr_color_mt("tensorpod");
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [tensorpod] [%l] %v");
  spdlog::level::level_enum level = spdlog::level::warn;
  if (const char* env = std::getenv("TENSORPOD_LOG_LEVEL")) {
    if (!ParseLevel(env, &level)) {
      logger->warn("TENSORPOD_LOG_LEVEL=\"{}\" is not a level (trace, debug, info, warn, "
                   "error, off); using warn",
                   env);
    }
  }
  logger->set_level(level);
  return logger;
}

}  // namespace

spdlog::logger& Logger() {
  static std::shared_ptr<spdlog::logger> logger = MakeLogger();
  return *logger;
}

bool SetLogLevel(const std::string& level) {
  spdlog::level::level_enum l;
  if (!ParseLevel(level, &l)) return false;
  Logger().set_level(l);
  return true;
}

}  // namespace tensorpod::internal
