#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fcnet/model_io.hpp"

namespace fcnet {

namespace {

std::string dir_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// The file a path names once symbolic links are followed: writing through a link replaces what
// it points to and keeps the link.
std::string through_links(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_symlink(path, ec)) return path;
  const auto target = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : target.string();
}

// Temporary files are "<target>.tmp-<pid>-XXXXXX". One whose writer is gone (killed with -9, or a
// second Ctrl-C during a write) is removed by the next writer of the same target.
void remove_stale_temps(const std::string& path) {
  namespace fs = std::filesystem;
  const std::string prefix = fs::path(path).filename().string() + ".tmp-";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_of(path), ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string rest = name.substr(prefix.size());
    const std::size_t dash = rest.find('-');
    if (dash == std::string::npos || dash == 0 || rest.size() - dash - 1 != 6) continue;
    pid_t pid = 0;
    bool digits = true;
    for (std::size_t i = 0; i < dash; ++i) {
      if (rest[i] < '0' || rest[i] > '9') digits = false;
      pid = pid * 10 + (rest[i] - '0');
    }
    if (!digits || pid <= 0) continue;
    if (::kill(pid, 0) != 0 && errno == ESRCH) fs::remove(e.path(), ec);
  }
}

// Creates a unique temporary file beside `path`; returns its name and open descriptor.
int make_temp(const std::string& path, std::string& tmp) {
  remove_stale_temps(path);
  tmp = path + ".tmp-" + std::to_string(::getpid()) + "-XXXXXX";
  std::vector<char> buf(tmp.begin(), tmp.end());
  buf.push_back('\0');
  const int fd = ::mkstemp(buf.data());
  tmp.assign(buf.data());
  return fd;
}

// The permissions of a new file: 0666 less the umask, read from /proc/self/status (setting the
// umask to read it would race with other threads' files); 0644 where the kernel does not say.
mode_t new_file_mode() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Umask:", 0) == 0)
      return 0666 & ~static_cast<mode_t>(std::stoul(line.substr(6), nullptr, 8));
  return 0644;
}

// The descriptor a path names itself (/dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N), or
// -1: output the shell redirected (`>> log`) goes to that descriptor, not over the file.
int named_descriptor(const std::string& path) {
  if (path == "/dev/stdout") return 1;
  if (path == "/dev/stderr") return 2;
  for (const char* prefix : {"/dev/fd/", "/proc/self/fd/"}) {
    const std::size_t n = std::strlen(prefix);
    if (path.size() > n && path.size() <= n + 9 && path.compare(0, n, prefix) == 0 &&
        path.find_first_not_of("0123456789", n) == std::string::npos)
      return std::stoi(path.substr(n));
  }
  return -1;
}

// Whether `path` is written in place: a descriptor it names, or something that exists and is
// not a plain file or a folder (a device, a FIFO), as there is nothing to replace.
bool written_in_place(const std::string& path) {
  if (named_descriptor(path) >= 0) return true;
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

void write_in_place(const std::string& path, const std::string& bytes) {
  const int named = named_descriptor(path);
  if (named == 1 || named == 2) std::fflush(named == 1 ? stdout : stderr);  // what came before
  const int fd = named >= 0 ? named : ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno), "a writable file");
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      const int e = errno;
      if (named < 0) ::close(fd);
      fail(path, std::string("cannot write: ") + std::strerror(e), "a writable file");
    }
    done += static_cast<std::size_t>(w);
  }
  if (named < 0) ::close(fd);
}

}  // namespace

void check_writable(const std::string& given) {
  const std::string path = through_links(given);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    fail(path, "is a folder", "a file path to write");
  if (written_in_place(given)) {
    const int fd = named_descriptor(given);
    const int flags = fd >= 0 ? ::fcntl(fd, F_GETFL) : 0;
    if (fd >= 0 ? flags < 0 || (flags & O_ACCMODE) == O_RDONLY : ::access(given.c_str(), W_OK) != 0)
      fail(given, "cannot be written", "a writable file, device or descriptor");
    return;
  }
  std::string tmp;
  const int fd = make_temp(path, tmp);
  if (fd < 0)
    fail(path,
         std::string("cannot create a file in folder '") + dir_of(path) +
             "': " + std::strerror(errno),
         "a writable folder");
  ::close(fd);
  ::unlink(tmp.c_str());
}

void write_file_atomic(const std::string& given, const std::string& bytes) {
  if (written_in_place(given)) return write_in_place(given, bytes);
  const std::string path = through_links(given);
  struct stat old {};
  const bool replaces = ::stat(path.c_str(), &old) == 0;
  std::string tmp;
  const int fd = make_temp(path, tmp);
  if (fd < 0) fail(path, std::string("cannot write: ") + std::strerror(errno), "a writable folder");
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t w = ::write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      fail(path, std::string("cannot write: ") + std::strerror(e),
           "enough free space in '" + dir_of(path) + "'");
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    fail(path, std::string("cannot write: ") + std::strerror(e),
         "enough free space in '" + dir_of(path) + "'");
  }
  ::chmod(tmp.c_str(), replaces ? old.st_mode & 07777 : new_file_mode());
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    fail(path, std::string("cannot replace: ") + std::strerror(e),
         "a file path that can be replaced (not a folder)");
  }
  // Make the rename itself durable (best effort: some file systems refuse to sync folders).
  const int dfd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::string read_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    fail(path, "is a folder", "a file to read");
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, std::string("cannot open: ") + std::strerror(errno), "a readable file");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) fail(path, "read error", "a readable file");
  return ss.str();
}

}  // namespace fcnet
