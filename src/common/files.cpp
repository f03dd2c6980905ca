#include "common/files.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "a readable file", "no such file or no permission");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
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
