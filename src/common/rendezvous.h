// Who this process is in a multi-process run, read from the environment its launcher set (torch-free, so that the
// rules are unit-tested without LibTorch):
//   torchrun:  RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT
//   Slurm:     SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID; the address is the first host of SLURM_JOB_NODELIST
//              (or SLURM_NODELIST) unless MASTER_ADDR is set; MASTER_PORT or 29500
//   Open MPI:  OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK with MASTER_ADDR, MASTER_PORT
// None of them set: world size 1, nothing to connect to.
//
// Launchers nest (`srun torchrun ...`, `mpirun` inside an sbatch allocation), so more than one set may be present. The
// innermost one describes the processes that actually run: torchrun's variables win over Slurm's and Open MPI's, and
// Open MPI's over Slurm's. Two sets are inconsistent, and refused, when they cannot describe the same processes:
//   - torchrun under Slurm/Open MPI: one torchrun per outer task, so the outer world size must divide WORLD_SIZE;
//   - Open MPI and Slurm with the same world size (srun started the MPI ranks) but different ranks.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace rlhf {

struct Rendezvous {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;           // index of the process on its node (picks the GPU)
  std::string master_addr;          // rank 0's host, where the TCP store listens
  int port = 0;
  std::string launcher = "none";    // torchrun | slurm | openmpi | none
  // torchrun's agent already serves a TCP store at MASTER_ADDR:MASTER_PORT (TORCHELASTIC_USE_AGENT_STORE=True):
  // every rank, rank 0 included, connects to it as a client.
  bool agent_store = false;
  std::string describe() const;     // "rank 1 of 2 (torchrun, 127.0.0.1:29500)"
};

// `getenv` is injectable for tests (default: the process environment). An inconsistent or partial set is an
// rlhf::Error that names the variables and their values.
using EnvironmentLookup = std::function<const char*(const char*)>;
Rendezvous rendezvous_from_environment(const EnvironmentLookup& getenv = nullptr);

// Slurm's compressed host lists: "node[01-03,07],gpu5" -> node01 node02 node03 node07 gpu5 (zero padding kept, several
// bracket groups in one name expand as a product). A malformed list is an rlhf::Error.
std::vector<std::string> expand_nodelist(const std::string& list);

}  // namespace rlhf
