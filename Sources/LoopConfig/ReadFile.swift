// Reading the config file: the one place LoopConfig touches the operating system, kept in
// this small file so the source of bytes can be swapped. It reads through LoopLinux's
// FileDescriptor, bounded by `ConfigLimits.maxFileBytes` so `/dev/zero` or a huge file
// cannot make startup hang or eat memory.

import LoopLinux

/// The whole file at `path` (without its NUL), or the error to report as `display`.
func readConfigFile(path: [UInt8], display: [UInt8]) throws(ConfigError) -> [UInt8] {
  func failure(_ message: [UInt8]) -> ConfigError {
    ConfigError(kind: .file, file: display, path: [], line: 0, column: 0, message: message)
  }
  if path.isEmpty { throw failure(bytes("no config file named (the path is empty)")) }
  if path.contains(0) { throw failure(bytes("the path contains a NUL byte")) }
  var cPath = path
  cPath.append(0)
  let outcome: Result<[UInt8], Errno> = cPath.withUnsafeBufferPointer { raw in
    raw.withMemoryRebound(to: CChar.self) { cString in
      // SAFETY: `cString` is NUL-terminated (appended above) and outlives the open call.
      do throws(Errno) {
        let fd = try FileDescriptor.open(bytes: cString)
        return .success(try readAll(fd))
      } catch {
        return .failure(error)
      }
    }
  }
  switch outcome {
  case .success(let contents):
    if contents.count > ConfigLimits.maxFileBytes {
      var message: [UInt8] = []
      message.append("the file is larger than ")
      message.appendDecimal(ConfigLimits.maxFileBytes)
      message.append(" bytes; a board config is a few kilobytes")
      throw failure(message)
    }
    if contents.isEmpty {
      throw failure(
        bytes(
          "the file is empty; expected a JSON object such as {\"board\": ..., \"gpio\": ..., \"tasks\": [...]}"
        ))
    }
    return contents
  case .failure(let errno):
    var message: [UInt8] = []
    switch errno {
    case .noEntry: message.append("cannot open the config file: no such file")
    case .accessDenied: message.append("cannot open the config file: permission denied")
    case .isDirectory: message.append("is a directory, not a config file")
    case .notDirectory: message.append("cannot open the config file: a part of the path is not a directory")
    default:
      message.append("cannot read the config file: ")
      message.append(errno.message)
      message.append(" (")
      message.append(errno.name)
      message.append(")")
    }
    throw failure(message)
  }
}

/// Reads `fd` to its end, stopping one byte past the size limit.
private func readAll(_ fd: borrowing FileDescriptor) throws(Errno) -> [UInt8] {
  var bytes: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 16 * 1024)
  while bytes.count <= ConfigLimits.maxFileBytes {
    var outcome: Result<Int, Errno> = .success(0)
    chunk.withUnsafeMutableBytes { buffer in
      // SAFETY: `buffer` is the chunk's storage for the duration of the read.
      do throws(Errno) {
        outcome = .success(try fd.read(into: buffer))
      } catch {
        outcome = .failure(error)
      }
    }
    let count = try outcome.get()
    if count == 0 { break }
    bytes.append(contentsOf: chunk[0..<count])
  }
  return bytes
}
