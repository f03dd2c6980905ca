#include "common/files.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace rlhf {

namespace {
std::string reason() { return std::strerror(errno); }
}  // namespace

AtomicWriter::AtomicWriter(std::string path) : path_(std::move(path)) {
  temp_path_ = path_ + ".tmp-" + std::to_string(::getpid());
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(path_, "a writable location", reason());
}

AtomicWriter::~AtomicWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

void AtomicWriter::write(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(path_, "room to write " + std::to_string(size) + " more bytes", reason() + " (nothing replaced)");
    p += n, size -= static_cast<size_t>(n), written_ += static_cast<size_t>(n);
  }
}

void AtomicWriter::commit() {
  if (::fsync(fd_) != 0) fail(path_, "fsync to succeed", reason() + " (nothing replaced)");
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail(path_, "close to succeed", reason() + " (nothing replaced)");
  }
  fd_ = -1;
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) fail(path_, "rename into place", reason());
  committed_ = true;
  std::string folder = std::filesystem::path(path_).parent_path().string();
  int dir = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) ::fsync(dir), ::close(dir);
}

void write_file_atomic(const std::string& path, const std::string& content) {
  AtomicWriter writer(path);
  writer.write(content);
  writer.commit();
}

std::string read_file(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) fail(path, "a file", "a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "a readable file", "no such file or no permission");
  if (S_ISREG(info.st_mode)) {
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }
  // A pipe or a device has no size to trust: read it up to a bound (/dev/zero grew the string until std::bad_alloc).
  constexpr size_t kMaxStreamBytes = size_t{1} << 30;
  std::string text;
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    text.append(chunk, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxStreamBytes)
      fail(path, "at most 1 GiB from a pipe or device", "more (a device such as /dev/zero?)");
  }
  return text;
}

bool file_exists(const std::string& path) { return std::filesystem::exists(path); }

void make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) fail(path, "a folder that can be created", ec.message());
}

void remove_tree(const std::string& path) {
  // nftw visits children before their folder (FTW_DEPTH) and never follows links (FTW_PHYS).
  auto remove_one = [](const char* name, const struct stat*, int, struct FTW*) { return ::remove(name) == 0 ? 0 : errno; };
  const int rc = ::nftw(path.c_str(), remove_one, 16, FTW_DEPTH | FTW_PHYS);
  if (rc != 0 && !(rc == -1 && errno == ENOENT))
    fail(path, "a file or folder that can be removed", std::strerror(rc > 0 ? rc : errno));
}

FolderLock::FolderLock(const std::string& folder) : path_(folder + "/.rlhf.lock") {
  make_dirs(folder);
  // The holder removes the file before it unlocks, so a lock taken on a file that is no longer at the path is no lock
  // at all: take it again on the file that is.
  for (;;) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) fail(path_, "a writable location", reason());
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      char pid[32] = {};
      const ssize_t n = ::pread(fd_, pid, sizeof(pid) - 1, 0);
      ::close(fd_);
      fd_ = -1;
      if (error != EWOULDBLOCK) {
        std::fprintf(stderr, "note: %s: cannot lock (%s); a second run into this folder would not be noticed\n",
                     path_.c_str(), std::strerror(error));
        return;
      }
      std::string holder(pid, n > 0 ? static_cast<size_t>(n) : 0);
      holder.erase(holder.find_last_not_of(" \n") + 1);
      fail(folder, "an output folder no other run is using",
           "one in use by process " + (holder.empty() ? std::string("(pid not written yet)") : holder) + " (" + path_ +
               "); wait for it to end or choose another --output_dir");
    }
    struct stat held {}, named {};
    if (::fstat(fd_, &held) == 0 && ::stat(path_.c_str(), &named) == 0 && held.st_dev == named.st_dev &&
        held.st_ino == named.st_ino)
      break;
    ::close(fd_);
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
    fail(path_, "room to write this process's id", reason());
}

FolderLock::~FolderLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // before unlocking: see the constructor
  ::close(fd_);
}

size_t remove_stale_temp_files(const std::string& folder) {
  size_t removed = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    const size_t at = name.rfind(".tmp-");
    if (at == std::string::npos || at == 0) continue;
    const std::string digits = name.substr(at + 5);
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    // kill(pid, 0) fails with ESRCH only when no such process exists (EPERM: it runs, as another user).
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::error_code kind;
    if (entry.is_regular_file(kind) && ::unlink(entry.path().c_str()) == 0) ++removed;
  }
  return removed;
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, "a readable file", reason());
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail(path, "a file whose size can be read", reason());
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      fail(path, "a file that can be memory-mapped", reason());
    }
    data_ = static_cast<const unsigned char*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<unsigned char*>(data_), size_);
}

}  // namespace rlhf
