// Files written so that a crash or a full disk never leaves a half-written file under the final name.
#pragma once
#include <cstddef>
#include <functional>
#include <string>

namespace rlhf {

// Writes through `write` into path.tmp-<pid>, fsyncs, renames over `path`, fsyncs the folder. On any failure the
// temporary file is removed, the previous `path` is untouched, and the error names the path and the reason.
class AtomicWriter {
 public:
  explicit AtomicWriter(std::string path);
  ~AtomicWriter();  // removes the temporary file if commit() was not reached
  void write(const void* data, size_t size);
  void write(const std::string& text) { write(text.data(), text.size()); }
  size_t bytes_written() const { return written_; }
  void commit();

 private:
  std::string path_, temp_path_;
  int fd_ = -1;
  size_t written_ = 0;
  bool committed_ = false;
};

void write_file_atomic(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);
bool file_exists(const std::string& path);
void make_dirs(const std::string& path);
// Removes a file or a folder with everything in it; a missing path is fine. Use this, not std::filesystem::remove_all:
// the torch wheel's libtorch.so exports its own remove_all, which calls a libstdc++ symbol that Debian 12's libstdc++
// lacks (a null weak reference), so remove_all on a non-empty folder crashes any binary linked with LibTorch.
void remove_tree(const std::string& path);

// An exclusive lock (flock) on FOLDER/.rlhf.lock, held while the object lives, the file holding the holder's pid: two
// training runs into one output folder mixed their checkpoints and metrics. A second lock on the folder, from any
// process, fails naming the first's pid. Released (and the file removed) by the destructor; the file a killed process
// left holds no lock and is taken over. On a filesystem without locks a note is printed and nothing is held.
class FolderLock {
 public:
  explicit FolderLock(const std::string& folder);  // creates the folder if needed
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  std::string path_;
  int fd_ = -1;
};

// Removes what AtomicWriter leaves when its process is killed mid-write, NAME.tmp-PID, from `folder` (not its
// subfolders) when process PID no longer runs; nothing else. Returns how many files were removed.
size_t remove_stale_temp_files(const std::string& folder);

// A read-only memory map of a whole file (safetensors and GGUF data are used in place, not copied).
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace rlhf
