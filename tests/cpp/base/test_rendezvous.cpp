// Rendezvous from launcher environments: the variables torchrun, Slurm and Open MPI set (as their documentation lists
// them), Slurm's compressed host lists, and the inconsistent sets that must be refused.
#include <gtest/gtest.h>

#include <map>

#include "../error_of.h"
#include "common/rendezvous.h"

namespace rlhf {
namespace {

using Env = std::map<std::string, std::string>;

Rendezvous from(const Env& env) {
  return rendezvous_from_environment([&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

std::string error_of(const Env& env) { return rlhf::error_of([&] { from(env); }); }

TEST(Rendezvous, NothingSetIsOneProcess) {
  auto r = from({});
  EXPECT_EQ(r.world_size, 1);
  EXPECT_EQ(r.rank, 0);
  EXPECT_EQ(r.launcher, "none");
}

TEST(Rendezvous, Torchrun) {
  auto r = from({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "10.0.0.5"},
                 {"MASTER_PORT", "29511"}});
  EXPECT_EQ(r.launcher, "torchrun");
  EXPECT_EQ(r.rank, 3);
  EXPECT_EQ(r.world_size, 8);
  EXPECT_EQ(r.local_rank, 1);
  EXPECT_EQ(r.master_addr, "10.0.0.5");
  EXPECT_EQ(r.port, 29511);
  EXPECT_FALSE(r.agent_store);
  // torchrun's agent serves the store itself: rank 0 must connect to it rather than listen.
  EXPECT_TRUE(from({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"},
                    {"TORCHELASTIC_USE_AGENT_STORE", "True"}}).agent_store);
}

TEST(Rendezvous, SlurmTakesTheFirstHostOfTheNodeList) {
  auto r = from({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"},
                 {"SLURM_JOB_NODELIST", "gpu[07-08,11],login1"}});
  EXPECT_EQ(r.launcher, "slurm");
  EXPECT_EQ(r.rank, 5);
  EXPECT_EQ(r.local_rank, 1);
  EXPECT_EQ(r.master_addr, "gpu07");
  EXPECT_EQ(r.port, 29500);
  // MASTER_ADDR set by the sbatch script wins over the node list.
  EXPECT_EQ(from({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_NODELIST", "n1"}, {"MASTER_ADDR", "head"}}).master_addr,
            "head");
}

TEST(Rendezvous, OpenMpiNeedsMasterAddress) {
  auto r = from({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "4"}, {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                 {"MASTER_ADDR", "h0"}, {"MASTER_PORT", "1234"}});
  EXPECT_EQ(r.launcher, "openmpi");
  EXPECT_EQ(r.rank, 1);
  EXPECT_EQ(r.world_size, 4);
  EXPECT_NE(error_of({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "4"}}).find("MASTER_ADDR not set"),
            std::string::npos);
}

TEST(Rendezvous, WorldSizeOneNeedsNoAddress) {
  auto r = from({{"RANK", "0"}, {"WORLD_SIZE", "1"}});
  EXPECT_EQ(r.world_size, 1);
  EXPECT_EQ(r.launcher, "torchrun");
}

TEST(Rendezvous, RefusesInconsistentSets) {
  EXPECT_NE(error_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}}).find("RANK=2"),
            std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}}).find("WORLD_SIZE missing"), std::string::npos);
  EXPECT_NE(error_of({{"SLURM_NTASKS", "2"}}).find("SLURM_PROCID missing"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}}).find("'x'"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "0"}}).find("WORLD_SIZE"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "70000"}}).find("MASTER_PORT"),
            std::string::npos);
  // Two launchers that cannot describe the same processes.
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "3"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"},
                      {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}})
                .find("multiple of Slurm"),
            std::string::npos);
  EXPECT_NE(error_of({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"}, {"SLURM_PROCID", "0"},
                      {"SLURM_NTASKS", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}})
                .find("same rank"),
            std::string::npos);
}

TEST(Rendezvous, TorchrunInsideSlurmWins) {
  // `srun --ntasks-per-node 1 torchrun --nproc_per_node 4`: 2 Slurm tasks, 8 torchrun workers.
  auto r = from({{"RANK", "6"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "2"}, {"MASTER_ADDR", "n1"}, {"MASTER_PORT", "2"},
                 {"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"SLURM_LOCALID", "0"}});
  EXPECT_EQ(r.launcher, "torchrun");
  EXPECT_EQ(r.rank, 6);
  EXPECT_EQ(r.local_rank, 2);
}

TEST(Nodelist, ExpandsSlurmsCompressedForm) {
  EXPECT_EQ(expand_nodelist("node[01-03,07]"), (std::vector<std::string>{"node01", "node02", "node03", "node07"}));
  EXPECT_EQ(expand_nodelist("a1,b[9-10]"), (std::vector<std::string>{"a1", "b9", "b10"}));
  EXPECT_EQ(expand_nodelist("r[1-2]-n[1-2]"), (std::vector<std::string>{"r1-n1", "r1-n2", "r2-n1", "r2-n2"}));
  EXPECT_EQ(expand_nodelist("single"), (std::vector<std::string>{"single"}));
  for (const char* bad : {"node[01-03", "node]", "node[]", "node[3-1]", "node[a-b]", "a,,b", ""})
    EXPECT_THROW(expand_nodelist(bad), Error) << bad;
}

}  // namespace
}  // namespace rlhf
