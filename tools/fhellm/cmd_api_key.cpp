// fhellm api-key: the server's API key file (net/api_keys.h). `add` prints
// the new key once; the file keeps only a salted hash of it.
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "fhellm/error.h"
#include "net/api_keys.h"

namespace fhellm::cli {

namespace {

struct ApiKeyArgs {
  std::string file, name;
  net::KeyLimits limits;
};

net::ApiKeyStore load_or_empty(const std::string& file) {
  return std::filesystem::exists(file) ? net::ApiKeyStore::load(file) : net::ApiKeyStore();
}

void run_add(const ApiKeyArgs& a) {
  net::ApiKeyStore store = load_or_empty(a.file);
  const std::string key = store.add(a.name, a.limits);
  store.save(a.file);
  std::printf("%s\n", key.c_str());
  std::fprintf(stderr,
               "fhellm api-key: added '%s' to %s. The key above is shown once: give it to its user "
               "(--api-key or FHELLM_API_KEY); the file keeps only a salted hash.\n",
               a.name.c_str(), a.file.c_str());
}

void run_list(const ApiKeyArgs& a) {
  const net::ApiKeyStore store = net::ApiKeyStore::load(a.file);
  for (const net::ApiKeyEntry& e : store.entries()) {
    std::printf("%s  %-24s sessions=%u rps=%g rows_per_hour=%llu\n", e.id.c_str(), e.name.c_str(),
                e.limits.sessions, e.limits.requests_per_second,
                static_cast<unsigned long long>(e.limits.rows_per_hour));
  }
}

void run_remove(const ApiKeyArgs& a) {
  net::ApiKeyStore store = net::ApiKeyStore::load(a.file);
  store.remove(a.name);
  store.save(a.file);
  std::fprintf(stderr, "fhellm api-key: removed '%s' (a running server keeps it until restarted)\n", a.name.c_str());
}

}  // namespace

void register_api_key(CLI::App& app) {
  auto args = std::make_shared<ApiKeyArgs>();
  auto* cmd = app.add_subcommand("api-key", "Manage the API keys a server accepts (fhellm serve --api-keys FILE)");
  cmd->require_subcommand(1);
  auto* add = cmd->add_subcommand("add", "Add a key and print it (once)");
  add->add_option("--file", args->file, "key file (created if absent, mode 0600)")->required();
  add->add_option("--name", args->name, "a name for the key: [A-Za-z0-9_.-], 1-64")->required();
  add->add_option("--sessions", args->limits.sessions, "sessions at once (0: the server's --key-sessions)");
  add->add_option("--rps", args->limits.requests_per_second, "requests per second (0: the server's --key-rps)");
  add->add_option("--rows-per-hour", args->limits.rows_per_hour,
                  "rows per hour, encrypted or online (0: the server's --key-rows-per-hour)");
  add->callback([args] { run_add(*args); });
  auto* list = cmd->add_subcommand("list", "List the keys' ids, names and limits");
  list->add_option("--file", args->file, "key file")->required();
  list->callback([args] { run_list(*args); });
  auto* remove = cmd->add_subcommand("remove", "Remove a key by name");
  remove->add_option("--file", args->file, "key file")->required();
  remove->add_option("--name", args->name, "the key's name")->required();
  remove->callback([args] { run_remove(*args); });
}

}  // namespace fhellm::cli
