#include "common/rendezvous.h"

#include <cstdlib>
#include <optional>

#include "common/error.h"

namespace rlhf {

namespace {

constexpr int kDefaultPort = 29500;  // torchrun's and torch.distributed's default

std::optional<std::string> lookup(const EnvironmentLookup& getenv, const char* name) {
  const char* value = getenv ? getenv(name) : std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

int64_t parse_count(const std::string& name, const std::string& value, int64_t minimum) {
  size_t used = 0;
  long long parsed = -1;
  try {
    parsed = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != value.size() || parsed < minimum)
    fail("environment variable " + name, "an integer >= " + std::to_string(minimum), "'" + value + "'");
  return parsed;
}

// One launcher's view: all of its variables or none of them.
struct LauncherView {
  std::string name, rank_var, size_var;
  int64_t rank = 0, world_size = 1, local_rank = 0;
};

std::optional<LauncherView> read_launcher(const EnvironmentLookup& getenv, const std::string& name, const char* rank_var,
                                          const char* size_var, const char* local_var) {
  auto rank = lookup(getenv, rank_var), size = lookup(getenv, size_var), local = lookup(getenv, local_var);
  if (!rank && !size && !local) return std::nullopt;
  if (!rank || !size) {
    const std::string present = rank ? rank_var : size ? size_var : local_var;
    const std::string missing = !rank ? rank_var : size_var;
    fail(name + " environment", std::string(rank_var) + " and " + size_var + " together",
         present + " set but " + missing + " missing (a partial launch environment)");
  }
  LauncherView view{name, rank_var, size_var};
  view.world_size = parse_count(size_var, *size, 1);
  view.rank = parse_count(rank_var, *rank, 0);
  view.local_rank = local ? parse_count(local_var, *local, 0) : 0;
  if (view.rank >= view.world_size)
    fail(name + " environment", std::string(rank_var) + " below " + size_var + " (" + std::to_string(view.world_size) + ")",
         std::string(rank_var) + "=" + std::to_string(view.rank));
  return view;
}

std::string pair_text(const LauncherView& v) {
  return v.rank_var + "=" + std::to_string(v.rank) + " " + v.size_var + "=" + std::to_string(v.world_size);
}

// Splits at commas outside brackets.
std::vector<std::string> split_top_level(const std::string& list, const std::string& whole) {
  std::vector<std::string> out;
  std::string current;
  int depth = 0;
  for (char c : list) {
    if (c == '[') ++depth;
    if (c == ']' && --depth < 0) fail("SLURM_NODELIST '" + whole + "'", "balanced brackets", "a stray ']'");
    if (c == ',' && depth == 0) {
      out.push_back(current), current.clear();
      continue;
    }
    current += c;
  }
  if (depth != 0) fail("SLURM_NODELIST '" + whole + "'", "balanced brackets", "an unclosed '['");
  out.push_back(current);
  return out;
}

void expand_one(const std::string& name, const std::string& whole, std::vector<std::string>& out) {
  const size_t open = name.find('[');
  if (open == std::string::npos) {
    if (name.empty()) fail("SLURM_NODELIST '" + whole + "'", "host names separated by commas", "an empty name");
    out.push_back(name);
    return;
  }
  const size_t close = name.find(']', open);
  const std::string prefix = name.substr(0, open), ranges = name.substr(open + 1, close - open - 1);
  const std::string rest = name.substr(close + 1);
  if (ranges.empty()) fail("SLURM_NODELIST '" + whole + "'", "numbers or ranges inside [ ]", "'[]'");
  size_t start = 0;
  while (start <= ranges.size()) {
    size_t comma = ranges.find(',', start);
    if (comma == std::string::npos) comma = ranges.size();
    const std::string range = ranges.substr(start, comma - start);
    const size_t dash = range.find('-');
    const std::string low = range.substr(0, dash), high = dash == std::string::npos ? low : range.substr(dash + 1);
    auto digits = [](const std::string& s) { return !s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos; };
    if (!digits(low) || !digits(high) || std::stoll(high) < std::stoll(low))
      fail("SLURM_NODELIST '" + whole + "'", "ranges like 01-03 or single numbers inside [ ]", "'" + range + "'");
    if (std::stoll(high) - std::stoll(low) > 100000)
      fail("SLURM_NODELIST '" + whole + "'", "a range of at most 100000 hosts", "'" + range + "'");
    for (long long n = std::stoll(low); n <= std::stoll(high); ++n) {
      std::string number = std::to_string(n);
      if (number.size() < low.size()) number.insert(0, low.size() - number.size(), '0');  // node01: width of the bound
      expand_one(prefix + number + rest, whole, out);
    }
    start = comma + 1;
  }
}

}  // namespace

std::vector<std::string> expand_nodelist(const std::string& list) {
  std::vector<std::string> hosts;
  for (const auto& entry : split_top_level(list, list)) expand_one(entry, list, hosts);
  return hosts;
}

std::string Rendezvous::describe() const {
  return "rank " + std::to_string(rank) + " of " + std::to_string(world_size) + " (" + launcher +
         (world_size > 1 ? ", " + master_addr + ":" + std::to_string(port) : std::string()) + ")";
}

Rendezvous rendezvous_from_environment(const EnvironmentLookup& getenv) {
  auto torchrun = read_launcher(getenv, "torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK");
  auto openmpi = read_launcher(getenv, "Open MPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK");
  auto slurm = read_launcher(getenv, "Slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID");

  for (const auto* outer : {&openmpi, &slurm}) {
    if (torchrun && *outer && torchrun->world_size % (*outer)->world_size != 0)
      fail("launch environment", "torchrun's WORLD_SIZE a multiple of " + (*outer)->name + "'s " + (*outer)->size_var +
                                     " (one torchrun per " + (*outer)->name + " task)",
           pair_text(*torchrun) + " under " + pair_text(**outer));
  }
  if (openmpi && slurm && openmpi->world_size == slurm->world_size && openmpi->rank != slurm->rank)
    fail("launch environment", "Open MPI and Slurm giving this process the same rank", pair_text(*openmpi) + " but " + pair_text(*slurm));

  const LauncherView* chosen = torchrun ? &*torchrun : openmpi ? &*openmpi : slurm ? &*slurm : nullptr;
  Rendezvous r;
  if (chosen == nullptr) return r;
  r.launcher = torchrun && chosen == &*torchrun ? "torchrun" : openmpi && chosen == &*openmpi ? "openmpi" : "slurm";
  r.rank = chosen->rank, r.world_size = chosen->world_size, r.local_rank = chosen->local_rank;
  if (r.world_size == 1) return r;  // one process: no address needed, nothing will be opened
  r.agent_store = r.launcher == "torchrun" && lookup(getenv, "TORCHELASTIC_USE_AGENT_STORE") == std::string("True");

  auto addr = lookup(getenv, "MASTER_ADDR"), port = lookup(getenv, "MASTER_PORT");
  if (!addr && r.launcher == "slurm") {
    auto nodes = lookup(getenv, "SLURM_JOB_NODELIST");
    if (!nodes) nodes = lookup(getenv, "SLURM_NODELIST");
    if (!nodes) fail("Slurm environment", "SLURM_JOB_NODELIST or MASTER_ADDR (rank 0's host)", "neither set");
    r.master_addr = expand_nodelist(*nodes).front();
  } else if (!addr) {
    fail(r.launcher + " environment", "MASTER_ADDR (rank 0's host) with " + std::to_string(r.world_size) + " processes",
         "MASTER_ADDR not set");
  } else {
    r.master_addr = *addr;
  }
  if (port) {
    r.port = static_cast<int>(parse_count("MASTER_PORT", *port, 1));
    if (r.port > 65535) fail("environment variable MASTER_PORT", "a TCP port (1-65535)", *port);
  } else if (r.launcher == "slurm") {
    r.port = kDefaultPort;
  } else {
    fail(r.launcher + " environment", "MASTER_PORT with " + std::to_string(r.world_size) + " processes", "MASTER_PORT not set");
  }
  return r;
}

}  // namespace rlhf
