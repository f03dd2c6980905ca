#include "train/distributed.h"

#include <ATen/autocast_mode.h>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/error.h"
#include "model/device.h"
#include "train/fused_adamw.h"

namespace rlhf {

struct DataParallel::Impl {
  std::string stage, who;  // "sft", "rank 1 of 2 (torchrun, 127.0.0.1:29500)"
  int64_t timeout_s = 0;
  torch::Device device = torch::kCPU;  // where collectives run (CUDA for NCCL)
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
  int64_t bucket_bytes = 0;
  std::vector<std::vector<size_t>> buckets;  // parameter indices, in reverse order (the order backward produces them)
  // ZeRO-1: rank r owns elements [r·S, (r+1)·S) of the parameters laid end to end (S = ⌈total / N⌉). Each parameter's
  // overlap with a rank's range is a piece: a flat view into the parameter itself, so that the owner's AdamW updates
  // the weights in place and a broadcast from the owner writes them in place everywhere else (no flat copies, and
  // AdamW's temporaries stay the size of one parameter).
  struct Piece {
    size_t parameter;
    int64_t begin, end, owner;
    torch::Tensor view;  // parameters_[parameter] flattened, [begin, end)
  };
  std::vector<Piece> pieces;
  bool zero = false;
  std::unique_ptr<torch::optim::AdamW> shard_optimizer;  // over this rank's pieces (null when it owns none)

  // Waits for a collective; a peer that died or hangs becomes an rlhf::Error that says so instead of a c10 trace.
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) {
    try {
      work->wait();
    } catch (const std::exception& e) {
      std::string detail = e.what();
      detail = detail.substr(0, detail.find('\n'));
      fail(stage + ": data parallel " + who + ": " + what + " failed (another rank exited or stopped answering within "
           "--ddp_timeout " + std::to_string(timeout_s) + " s; its own output says why): " + detail);
    }
  }
};

namespace {

bool is_loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1"; }

torch::Tensor flat_of(const std::vector<torch::Tensor>& tensors, torch::Device device) {
  std::vector<torch::Tensor> flat;
  for (const auto& t : tensors) flat.push_back(t.detach().reshape({-1}).to(device, torch::kFloat32));
  return torch::cat(flat);
}

}  // namespace

DataParallel::DataParallel(const TrainingOptions& t, const std::string& stage)
    : rendezvous_(rendezvous_from_environment()), check_steps_(t.ddp_check_parameters_steps), zero_stage_(t.zero_stage) {
  if (!active()) return;  // one process: no store, no sockets, no threads
  impl_ = std::make_unique<Impl>();
  impl_->stage = stage;
  impl_->who = rendezvous_.describe();
  impl_->timeout_s = t.ddp_timeout;
  impl_->bucket_bytes = t.ddp_bucket_cap_mb * 1024 * 1024;
  const auto timeout = std::chrono::milliseconds(t.ddp_timeout * 1000);
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(rendezvous_.port);
    store_options.isServer = rendezvous_.rank == 0 && !rendezvous_.agent_store;
    store_options.numWorkers = static_cast<size_t>(rendezvous_.world_size);
    store_options.timeout = timeout;
    store_options.multiTenant = true;  // as torch.distributed does: one port may serve several stores in a process
    auto tcp = c10::make_intrusive<c10d::TCPStore>(rendezvous_.master_addr, store_options);
    // Our keys under a prefix of their own: torchrun's agent keeps its rendezvous keys in the same store.
    impl_->store = c10::make_intrusive<c10d::PrefixStore>("rlhf/" + stage + "/", tcp);
  } catch (const std::exception& e) {
    std::string detail = e.what();
    fail(stage + ": data parallel " + impl_->who + ": the rendezvous at " + rendezvous_.master_addr + ":" +
         std::to_string(rendezvous_.port) + " failed within --ddp_timeout " + std::to_string(t.ddp_timeout) +
         " s (all ranks started? port free?): " + detail.substr(0, detail.find('\n')));
  }
  const torch::Device picked = pick_device(t.device);
  try {
#ifdef USE_C10D_NCCL
    if (picked.is_cuda()) {
      impl_->device = device(picked);
      // NCCL sets up its communicator on the current CUDA device: this rank's GPU (cuda:LOCAL_RANK), as
      // torch.cuda.set_device does in a PyTorch DDP script; otherwise every rank would start on GPU 0.
      c10::cuda::set_device(impl_->device.index());
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      impl_->backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, static_cast<int>(rendezvous_.rank),
                                                                  static_cast<int>(rendezvous_.world_size), options);
    }
#endif
    if (!impl_->backend) {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      // The interface Gloo listens on: GLOO_SOCKET_IFNAME (as in PyTorch), loopback for a one-machine run, else the
      // address this host's name resolves to.
      if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface && *interface)
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
      else if (is_loopback(rendezvous_.master_addr))
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      impl_->backend = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, static_cast<int>(rendezvous_.rank),
                                                                  static_cast<int>(rendezvous_.world_size), options);
    }
  } catch (const std::exception& e) {
    std::string detail = e.what();
    fail(stage + ": data parallel " + impl_->who + ": could not connect the process group within --ddp_timeout " +
         std::to_string(t.ddp_timeout) + " s: " + detail.substr(0, detail.find('\n')));
  }
  if (is_main())
    std::fprintf(stderr, "%s: data parallel over %lld processes (%s, %s)\n", stage.c_str(),
                 static_cast<long long>(world_size()), rendezvous_.launcher.c_str(), impl_->backend->getBackendName().c_str());
}

DataParallel::DataParallel(DataParallel& same_group)
    : rendezvous_(same_group.rendezvous_), check_steps_(same_group.check_steps_), zero_stage_(same_group.zero_stage_) {
  if (!same_group.impl_) return;
  impl_ = std::make_unique<Impl>();
  const Impl& other = *same_group.impl_;
  impl_->stage = other.stage, impl_->who = other.who, impl_->timeout_s = other.timeout_s, impl_->device = other.device;
  impl_->store = other.store, impl_->backend = other.backend, impl_->bucket_bytes = other.bucket_bytes;
}

DataParallel::~DataParallel() = default;

torch::Device data_parallel_device(torch::Device picked) {
  if (!picked.is_cuda() || picked.has_index()) return picked;
  const Rendezvous r = rendezvous_from_environment();
  if (r.world_size == 1) return picked;
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(r.local_rank));
}

std::pair<int64_t, int64_t> DataParallel::rows(int64_t micro, int64_t per_rank, int64_t n) const {
  const int64_t begin = micro * per_rank * world_size() + rank() * per_rank;
  return {std::min(begin, n), std::min(begin + per_rank, n)};
}

std::vector<double> DataParallel::sum(std::vector<double> values) {
  if (!impl_ || values.empty()) return values;
  std::vector<torch::Tensor> tensors{torch::tensor(values, torch::kFloat64).to(impl_->device)};
  impl_->wait(impl_->backend->allreduce(tensors), "an all-reduce of statistics");
  auto result = tensors[0].to(torch::kCPU);
  for (size_t i = 0; i < values.size(); ++i) values[i] = result[static_cast<int64_t>(i)].item<double>();
  return values;
}

double DataParallel::loss_scale(double local) {
  if (!impl_) return 1.0;
  const double global = sum({local})[0];
  return global > 0 ? local * static_cast<double>(world_size()) / global : 0.0;
}

void DataParallel::attach(const std::vector<torch::Tensor>& parameters, torch::optim::AdamW& optimizer) {
  // Frozen parameters (requires_grad false) are broadcast but get no gradient and no update: a zero gradient would
  // still move them through AdamW's weight decay.
  parameters_.clear(), optimizer_ = &optimizer;
  for (const auto& p : parameters)
    if (p.requires_grad()) parameters_.push_back(p);
  if (!impl_) return;
  torch::NoGradGuard no_grad;
  auto bucket_up = [&](const std::vector<torch::Tensor>& tensors) {
    std::vector<std::vector<size_t>> buckets;
    int64_t bytes = impl_->bucket_bytes;
    for (size_t i = tensors.size(); i-- > 0;) {
      const int64_t size = tensors[i].numel() * 4;
      if (buckets.empty() || bytes + size > impl_->bucket_bytes) buckets.emplace_back(), bytes = 0;
      buckets.back().push_back(i);
      bytes += size;
    }
    return buckets;
  };
  impl_->buckets = bucket_up(parameters_);
  // Rank 0's weights everywhere: a model initialised from a seed or resumed from a checkpoint is already the same on
  // every rank, but a broadcast costs one pass and rules out a rank that read a different file.
  for (const auto& bucket : bucket_up(parameters)) {
    std::vector<torch::Tensor> members;
    for (size_t i : bucket) members.push_back(parameters[i]);
    std::vector<torch::Tensor> flat{flat_of(members, impl_->device)};
    c10d::BroadcastOptions options;
    options.rootRank = 0;
    impl_->wait(impl_->backend->broadcast(flat, options), "the broadcast of rank 0's parameters");
    int64_t offset = 0;
    for (auto& p : members) {
      p.copy_(flat[0].slice(0, offset, offset + p.numel()).view_as(p));
      offset += p.numel();
    }
  }
  if (zero_stage_ != 1) return;
  impl_->zero = true;
  int64_t total = 0;
  for (const auto& p : parameters_) total += p.numel();
  const int64_t S = (total + world_size() - 1) / world_size();
  std::vector<torch::Tensor> own;
  int64_t offset = 0;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const int64_t n = parameters_[i].numel();
    check(parameters_[i].is_contiguous(), impl_->stage + ": --zero_stage 1 needs contiguous parameters");
    for (int64_t r = 0; r < world_size(); ++r) {
      const int64_t begin = std::max(offset, r * S) - offset, end = std::min(offset + n, (r + 1) * S) - offset;
      if (begin >= end) continue;
      auto view = parameters_[i].detach().view({-1}).slice(0, begin, end);
      impl_->pieces.push_back({i, begin, end, r, view});
      if (r == rank()) own.push_back(view);
    }
    offset += n;
  }
  if (own.empty()) {  // fewer elements than ranks
    optimizer.state().clear();
    return;
  }
  const auto& group = static_cast<const torch::optim::AdamWOptions&>(optimizer.param_groups()[0].options());
  // The same kind of AdamW as the run's (--optim): the fused kernel or LibTorch's op-by-op update.
  if (dynamic_cast<FusedAdamW*>(&optimizer))
    impl_->shard_optimizer = std::make_unique<FusedAdamW>(own, torch::optim::AdamWOptions(group));
  else
    impl_->shard_optimizer = std::make_unique<torch::optim::AdamW>(own, torch::optim::AdamWOptions(group));
  // Moments loaded from a checkpoint (full, per parameter): keep this rank's pieces, drop the rest.
  for (const auto& piece : impl_->pieces) {
    if (piece.owner != rank()) continue;
    auto it = optimizer.state().find(parameters_[piece.parameter].unsafeGetTensorImpl());
    if (it == optimizer.state().end()) continue;
    auto& loaded = static_cast<torch::optim::AdamWParamState&>(*it->second);
    auto state = std::make_unique<torch::optim::AdamWParamState>();
    state->step(loaded.step());
    state->exp_avg(loaded.exp_avg().reshape({-1}).slice(0, piece.begin, piece.end).clone());
    state->exp_avg_sq(loaded.exp_avg_sq().reshape({-1}).slice(0, piece.begin, piece.end).clone());
    impl_->shard_optimizer->state()[piece.view.unsafeGetTensorImpl()] = std::move(state);
  }
  optimizer.state().clear();
}

void DataParallel::average_gradients() {
  if (!impl_) return;
  torch::NoGradGuard no_grad;
  // All buckets are sent before the first is waited for, so that Gloo's transfers of one overlap the packing of the
  // next (backward itself is not overlapped: see README, Running on a cluster).
  std::vector<std::vector<torch::Tensor>> flats(impl_->buckets.size());
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (size_t b = 0; b < impl_->buckets.size(); ++b) {
    std::vector<torch::Tensor> grads;
    for (size_t i : impl_->buckets[b]) {
      auto& p = parameters_[i];
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);  // a rank whose micro-batch was empty
      grads.push_back(p.grad());
    }
    flats[b] = {flat_of(grads, impl_->device)};
    works.push_back(impl_->backend->allreduce(flats[b]));
  }
  const double inverse = 1.0 / static_cast<double>(world_size());
  for (size_t b = 0; b < works.size(); ++b) {
    impl_->wait(works[b], "the all-reduce of gradients");
    auto flat = flats[b][0].mul_(inverse);
    int64_t offset = 0;
    for (size_t i : impl_->buckets[b]) {
      auto& grad = parameters_[i].mutable_grad();
      grad.copy_(flat.slice(0, offset, offset + grad.numel()).view_as(grad));
      offset += grad.numel();
    }
  }
}

void DataParallel::optimizer_step() {
  // bf16 autocast keeps the bf16 copy of each fp32 weight that at::linear receives for as long as an autocast region is
  // open, and our stages keep one open for the whole run: without dropping the copies here every later forward ran on
  // the first forward's weights. Dropped once the weights have moved (tests/cpp/core/test_optimizer.cpp).
  struct DropAutocastCopies {
    ~DropAutocastCopies() { at::autocast::clear_cache(); }
  } drop_autocast_copies;
  if (!impl_ || !impl_->zero) {
    optimizer_->step();
    return;
  }
  torch::NoGradGuard no_grad;
  // ZeRO-1: the averaged gradient is the same everywhere; each rank updates its pieces with its own moments (AdamW is
  // element-wise, so this is the same arithmetic as the unsharded step), then each piece is broadcast by its owner.
  for (auto& piece : impl_->pieces) {
    if (piece.owner != rank()) continue;
    const auto& grad = parameters_[piece.parameter].grad();
    piece.view.mutable_grad() = grad.defined() ? grad.reshape({-1}).slice(0, piece.begin, piece.end)
                                               : torch::zeros({piece.end - piece.begin}, piece.view.options());
  }
  if (impl_->shard_optimizer) {
    impl_->shard_optimizer->param_groups()[0].options().set_lr(optimizer_->param_groups()[0].options().get_lr());
    impl_->shard_optimizer->step();
    // Drop the views of this step's gradients, or they would keep the old gradient buffers alive through the next
    // backward (twice the gradient memory).
    for (auto& piece : impl_->pieces)
      if (piece.owner == rank()) piece.view.mutable_grad() = torch::Tensor();
  }
  for (auto& piece : impl_->pieces) {
    std::vector<torch::Tensor> tensors{piece.view};
    c10d::BroadcastOptions options;
    options.rootRank = piece.owner;
    impl_->wait(impl_->backend->broadcast(tensors, options), "the broadcast of updated parameters (ZeRO-1)");
  }
}

void DataParallel::release_optimizer_state() {
  if (impl_ && impl_->zero) optimizer_->state().clear();
}

void DataParallel::gather_optimizer_state() {
  if (!impl_ || !impl_->zero || impl_->pieces.empty()) return;
  // Every rank steps together, so rank 0 (which owns the first piece) has state exactly when the others do.
  int64_t step = -1;
  if (impl_->shard_optimizer) {
    auto it = impl_->shard_optimizer->state().find(impl_->pieces.front().view.unsafeGetTensorImpl());
    if (it != impl_->shard_optimizer->state().end())
      step = static_cast<torch::optim::AdamWParamState&>(*it->second).step();
  }
  const double global_step = sum({is_main() ? static_cast<double>(step) : 0.0})[0];  // rank 0's, everywhere
  if (global_step < 0) return;  // no step yet: nothing to gather
  step = static_cast<int64_t>(global_step);
  // Rank 0 receives each piece's moments from its owner into full per-parameter tensors, the layout an unsharded
  // optimizer holds; the other ranks never hold more than one piece's worth.
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> exp_avg(parameters_.size()), exp_avg_sq(parameters_.size());
  if (is_main())
    for (size_t i = 0; i < parameters_.size(); ++i)
      exp_avg[i] = torch::zeros_like(parameters_[i]), exp_avg_sq[i] = torch::zeros_like(parameters_[i]);
  for (const auto& piece : impl_->pieces) {
    torch::optim::AdamWParamState* owned = nullptr;
    if (piece.owner == rank())
      owned = &static_cast<torch::optim::AdamWParamState&>(
          *impl_->shard_optimizer->state().at(piece.view.unsafeGetTensorImpl()));
    for (int moment = 0; moment < 2; ++moment) {
      torch::Tensor buffer;
      if (owned) buffer = moment == 0 ? owned->exp_avg() : owned->exp_avg_sq();
      else if (is_main()) buffer = (moment == 0 ? exp_avg : exp_avg_sq)[piece.parameter].view({-1}).slice(0, piece.begin, piece.end);
      else buffer = torch::empty({piece.end - piece.begin}, piece.view.options());
      std::vector<torch::Tensor> tensors{buffer};
      c10d::BroadcastOptions options;
      options.rootRank = piece.owner;
      impl_->wait(impl_->backend->broadcast(tensors, options), "the gather of optimizer moments (ZeRO-1)");
      if (owned && is_main())
        (moment == 0 ? exp_avg : exp_avg_sq)[piece.parameter].view({-1}).slice(0, piece.begin, piece.end).copy_(buffer);
    }
  }
  if (!is_main()) return;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    auto full = std::make_unique<torch::optim::AdamWParamState>();
    full->step(step);
    full->exp_avg(exp_avg[i]), full->exp_avg_sq(exp_avg_sq[i]);
    optimizer_->state()[parameters_[i].unsafeGetTensorImpl()] = std::move(full);
  }
}

void DataParallel::check_parameters(int64_t step) {
  if (!impl_ || check_steps_ <= 0 || step % check_steps_ != 0) return;
  torch::NoGradGuard no_grad;
  // Σp and Σ|p|·(index-weighted) in float64: replicas updated by the same arithmetic agree bit for bit, so any
  // difference (a rank that skipped a step, read other data, or ran other code) shows.
  double plain = 0, weighted = 0;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    auto p = parameters_[i].detach().to(torch::kFloat64);
    plain += p.sum().item<double>();
    weighted += static_cast<double>(i + 1) * p.abs().sum().item<double>();
  }
  std::vector<torch::Tensor> tensors{torch::tensor({plain, -plain, weighted, -weighted}, torch::kFloat64).to(impl_->device)};
  c10d::AllreduceOptions options;
  options.reduceOp = c10d::ReduceOp::MAX;
  impl_->wait(impl_->backend->allreduce(tensors, options), "the parameter checksum");
  auto m = tensors[0].to(torch::kCPU);
  const double max_plain = m[0].item<double>(), min_plain = -m[1].item<double>();
  const double max_weighted = m[2].item<double>(), min_weighted = -m[3].item<double>();
  if (max_plain != min_plain || max_weighted != min_weighted) {
    char detail[256];
    std::snprintf(detail, sizeof detail, "checksums from %.17g to %.17g (this rank: %.17g)", min_plain, max_plain, plain);
    fail(impl_->stage + ": data parallel " + impl_->who + ": step " + std::to_string(step),
         "identical parameters on every rank", std::string(detail) + "; the replicas diverged");
  }
}

std::string DataParallel::memory_summary() const {
  // Peak resident set (VmHWM) from /proc: the whole process, model and activations included.
  std::string peak = "?";
  if (std::FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f))
      if (std::strncmp(line, "VmHWM:", 6) == 0) peak = std::to_string(std::atoll(line + 6) / 1024) + " MiB";
    std::fclose(f);
  }
  char text[256];
  std::snprintf(text, sizeof text, "%s: AdamW moments %.1f MiB, peak RSS %s", rendezvous_.describe().c_str(),
                static_cast<double>(optimizer_state_bytes()) / (1024.0 * 1024.0), peak.c_str());
  return text;
}

int64_t DataParallel::optimizer_state_bytes() const {
  int64_t bytes = 0;
  auto count = [&](const torch::optim::AdamW& optimizer) {
    for (const auto& [key, state] : optimizer.state()) {
      const auto& s = static_cast<const torch::optim::AdamWParamState&>(*state);
      bytes += s.exp_avg().numel() * s.exp_avg().element_size() + s.exp_avg_sq().numel() * s.exp_avg_sq().element_size();
    }
  };
  if (optimizer_) count(*optimizer_);
  if (impl_ && impl_->shard_optimizer) count(*impl_->shard_optimizer);
  return bytes;
}

}  // namespace rlhf
