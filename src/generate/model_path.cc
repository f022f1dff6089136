// generate/model_path.cc - model directory / Hugging Face cache resolution.
#include "generate/model_path.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

namespace lfm2 {
namespace {
namespace fs = std::filesystem;

bool LooksLikeRepoId(const std::string& text) {
  const size_t slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size() ||
      text.find('/', slash + 1) != std::string::npos) {
    return false;
  }
  for (char c : text) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/')) {
      return false;
    }
  }
  return text.find("..") == std::string::npos && text[0] != '.';
}

std::string HubCache() {
  if (const char* hub = std::getenv("HF_HUB_CACHE"); hub && *hub) return hub;
  if (const char* home = std::getenv("HF_HOME"); home && *home) return (fs::path(home) / "hub").string();
  const char* user_home = std::getenv("HOME");
  return (fs::path(user_home ? user_home : "/") / ".cache" / "huggingface" / "hub").string();
}
}  // namespace

StatusOr<std::string> ResolveModelPath(const std::string& model) {
  std::error_code error;
  if (fs::is_directory(model, error)) return model;
  if (!LooksLikeRepoId(model)) {
    return NotFoundError("model directory \"", model, "\" does not exist");
  }
  const std::string org = model.substr(0, model.find('/'));
  const std::string name = model.substr(model.find('/') + 1);
  const fs::path repo = fs::path(HubCache()) / ("models--" + org + "--" + name);
  const fs::path snapshots = repo / "snapshots";
  std::string revision;
  if (std::ifstream ref(repo / "refs" / "main"); ref) std::getline(ref, revision);
  if (!revision.empty() && fs::is_directory(snapshots / revision, error)) {
    return (snapshots / revision).string();
  }
  // No refs/main (e.g. a copied cache): use the only snapshot if there is exactly one.
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(snapshots, error)) {
    if (entry.is_directory(error)) found.push_back(entry.path());
  }
  if (revision.empty() && found.size() == 1) return found.front().string();
  return NotFoundError(
      "model \"", model, "\" is neither a directory nor in the Hugging Face cache: looked for ",
      revision.empty() ? (snapshots / "<revision from refs/main>").string()
                       : (snapshots / revision).string(),
      " (cache ", HubCache(),
      " from HF_HUB_CACHE / HF_HOME / ~/.cache/huggingface/hub). Download it first, e.g. "
      "`huggingface-cli download ", model, "`, or pass the model directory");
}

}  // namespace lfm2
