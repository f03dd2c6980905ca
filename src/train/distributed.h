// Data parallelism on torch's own c10d (TCPStore + ProcessGroupGloo on CPU, ProcessGroupNCCL on CUDA): the same
// process groups PyTorch's DistributedDataParallel uses, no communication layer of ours.
//
// A stage holds one DataParallel and calls it at a few points of its loop:
//   DataParallel dp(t, "sft");                       // reads the launcher's environment (common/rendezvous.h)
//   device = dp.device(pick_device(t.device));       // cuda -> cuda:LOCAL_RANK
//   dp.attach(model->parameters(), *optimizer);      // after loading (and resuming): rank 0's weights everywhere
//   rows = dp.rows(micro, batch, n);                 // this rank's slice of global micro-batch `micro`
//   dp.average_gradients();  dp.optimizer_step();    // after backward: bucketed all-reduce, then the (ZeRO-1) step
//   dp.gather_optimizer_state(); ... release_...;     // around rank 0's checkpoint (ZeRO-1: the full moments)
//   dp.check_parameters(step);                       // every --ddp_check_parameters_steps steps
// With one process (no launcher variables) nothing is opened and every call is a plain local operation.
//
// Sharding keeps N ranks × per_device_train_batch_size b equal to one process with batch N·b: global micro-batch m is
// rows [m·N·b, (m+1)·N·b) of the epoch order, and rank r takes rows [m·N·b + r·b, m·N·b + (r+1)·b). Losses that are
// means over a micro-batch's tokens or prompts are rescaled by (local count · N / global count) before backward, so the
// averaged gradient is the gradient of the global mean, whatever the split (loss_scale below).
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/rendezvous.h"
#include "train/options.h"

namespace rlhf {

// A CUDA device without an index becomes cuda:LOCAL_RANK when a launcher started several processes (one GPU each).
torch::Device data_parallel_device(torch::Device picked);

class DataParallel {
 public:
  DataParallel(const TrainingOptions& t, const std::string& stage);
  // A second set of parameters with its own optimizer (PPO's value model) on the same process group.
  explicit DataParallel(DataParallel& same_group);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int64_t rank() const { return rendezvous_.rank; }
  int64_t world_size() const { return rendezvous_.world_size; }
  bool is_main() const { return rendezvous_.rank == 0; }
  bool active() const { return rendezvous_.world_size > 1; }
  const Rendezvous& rendezvous() const { return rendezvous_; }

  torch::Device device(torch::Device picked) const { return data_parallel_device(picked); }
  // [begin, end) indices into the epoch order for this rank's part of global micro-batch `micro` (possibly empty at
  // the end of an epoch), `per_rank` rows per rank, `n` rows in the epoch.
  std::pair<int64_t, int64_t> rows(int64_t micro, int64_t per_rank, int64_t n) const;
  // Element-wise sums over ranks (counts, loss sums, statistics); with one process, `values` unchanged.
  std::vector<double> sum(std::vector<double> values);
  // The factor that turns this rank's mean over `local` items into its share of the global mean over all ranks' items:
  // local · N / global (0 when there are none anywhere). One small all-reduce; 1 with one process.
  double loss_scale(double local);

  // Takes the parameters to keep identical and the optimizer that updates them: broadcasts rank 0's values, lays out
  // the gradient buckets, and with ZeRO-1 moves this rank's slice of any loaded AdamW moments into its shard.
  void attach(const std::vector<torch::Tensor>& parameters, torch::optim::AdamW& optimizer);
  // Averages the gradients over ranks in flat buckets of --ddp_bucket_cap_mb (missing gradients count as zeros).
  void average_gradients();
  // optimizer.step(), or with ZeRO-1: AdamW on this rank's slice of the parameters laid end to end (in place), then
  // each slice broadcast by its owner.
  void optimizer_step();
  // Around a checkpoint that rank 0 writes: with ZeRO-1 every rank gathers the full moments into the optimizer (so
  // the checkpoint has the same layout as without sharding, and either kind of run resumes from it), then frees them.
  void gather_optimizer_state();
  void release_optimizer_state();
  // Every `--ddp_check_parameters_steps` steps: a float64 checksum of the parameters compared across ranks; an
  // rlhf::Error naming the step if they differ.
  void check_parameters(int64_t step);
  // Bytes of AdamW moments this rank holds (for the ZeRO-1 measurement).
  int64_t optimizer_state_bytes() const;
  // "rank 1 of 2 (...): AdamW moments 12.3 MiB, peak RSS 456 MiB" (printed by the stages at the end of a run).
  std::string memory_summary() const;

 private:
  struct Impl;
  Rendezvous rendezvous_;
  std::unique_ptr<Impl> impl_;  // null with one process
  torch::optim::AdamW* optimizer_ = nullptr;
  std::vector<torch::Tensor> parameters_;
  int64_t check_steps_ = 0, zero_stage_ = 0;
};

}  // namespace rlhf
