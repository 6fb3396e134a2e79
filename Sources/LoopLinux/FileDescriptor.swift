// FileDescriptor: an owned, move-only Linux file descriptor, closed when its owner drops it.
// Reads and writes never block on a nonblocking fd: "nothing now" is `Errno.wouldBlock`, which
// an edge-triggered reader treats as "wait for the next readiness".

import CLinux

// Frozen because Embedded Swift allows `discard self` (in close and release) only in frozen types.
/// An open file descriptor that this value owns; `deinit` closes it. Never allocates.
@frozen
public struct FileDescriptor: ~Copyable {
  /// The kernel's fd number.
  public let rawValue: Int32

  /// Takes ownership of `rawValue`, which the caller must not close.
  public init(adopting rawValue: Int32) { self.rawValue = rawValue }

  deinit {
    // Errors from close in deinit have nobody to report to; Linux frees the fd even on EINTR.
    if rawValue >= 0 { _ = cl_close(rawValue) }
  }

  /// Closes the fd now, reporting a failure. Never retried: Linux frees the fd even on EINTR,
  /// and a retry could close an fd another thread just opened.
  public consuming func close() throws(Errno) {
    let fd = rawValue
    discard self
    _ = try systemCall("FileDescriptor.close", retryOnInterrupt: false) { cl_close(fd) }
  }

  /// Gives up ownership without closing and returns the raw fd.
  public consuming func release() -> Int32 {
    let fd = rawValue
    discard self
    return fd
  }

  /// Reads up to `buffer.count` bytes; 0 means end of file. Throws `.wouldBlock` when a
  /// nonblocking fd has nothing now. The corresponding C function is `read`.
  public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
    try systemCall("FileDescriptor.read") { cl_read(rawValue, buffer.baseAddress, buffer.count) }
  }

  /// Reads up to `buffer.count` bytes; nil when a nonblocking fd has nothing now (EAGAIN),
  /// reported without a throw: the usual end of an edge-triggered drain.
  public func tryRead(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int? {
    let outcome = systemCallResult("FileDescriptor.tryRead", via: LinuxCalls.self) {
      cl_read(rawValue, buffer.baseAddress, buffer.count)
    }
    switch outcome {
    case .success(let count): return count
    case .failure(.wouldBlock): return nil
    case .failure(let error): throw error
    }
  }

  /// Reads up to `buffer.count` bytes at `offset` without moving the file position (a sysfs
  /// attribute is re-read from offset 0). The corresponding C function is `pread`.
  public func read(into buffer: UnsafeMutableRawBufferPointer, atOffset offset: Int) throws(Errno)
    -> Int
  {
    try systemCall("FileDescriptor.read(atOffset:)") {
      cl_pread(rawValue, buffer.baseAddress, buffer.count, off_t(offset))
    }
  }

  /// Writes up to `buffer.count` bytes and returns how many were taken. Throws `.wouldBlock`
  /// when a nonblocking fd has no room. The corresponding C function is `write`.
  public func write(_ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int {
    try systemCall("FileDescriptor.write") { cl_write(rawValue, buffer.baseAddress, buffer.count) }
  }

  /// Writes up to `buffer.count` bytes; nil when a nonblocking fd has no room (EAGAIN),
  /// reported without a throw.
  @inline(never)
  public func tryWrite(_ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int? {
    let outcome = systemCallResult("FileDescriptor.tryWrite", via: LinuxCalls.self) {
      cl_write(rawValue, buffer.baseAddress, buffer.count)
    }
    switch outcome {
    case .success(let count): return count
    case .failure(.wouldBlock): return nil
    case .failure(let error): throw error
    }
  }

  /// Makes reads and writes return `.wouldBlock` instead of blocking (O_NONBLOCK).
  public func setNonBlocking() throws(Errno) {
    let flags = try systemCall("FileDescriptor.setNonBlocking") { cl_fcntl(rawValue, F_GETFL, 0) }
    if flags & O_NONBLOCK != 0 { return }
    _ = try systemCall("FileDescriptor.setNonBlocking") {
      cl_fcntl(rawValue, F_SETFL, flags | O_NONBLOCK)
    }
  }

  /// Whether O_NONBLOCK is set.
  public func isNonBlocking() throws(Errno) -> Bool {
    let flags = try systemCall("FileDescriptor.isNonBlocking") { cl_fcntl(rawValue, F_GETFL, 0) }
    return flags & O_NONBLOCK != 0
  }

  /// What kind of file the fd is open on. The corresponding C function is `fstat`.
  package func fileType() throws(Errno) -> FileType {
    var mode: UInt32 = 0
    _ = try systemCall("FileDescriptor.fileType") { cl_fstat_mode(rawValue, &mode) }
    return FileType(mode: mode)
  }

  /// The timeout of the watchdog device the fd is open on, in seconds; throws what the driver
  /// says (ENOTTY or EOPNOTSUPP when it cannot tell). The corresponding C function is `ioctl`
  /// with `WDIOC_GETTIMEOUT`.
  package func watchdogTimeout() throws(Errno) -> Int {
    var seconds: Int32 = 0
    _ = try systemCall("FileDescriptor.watchdogTimeout") { cl_watchdog_get_timeout(rawValue, &seconds) }
    return Int(seconds)
  }

  /// A new pipe, both ends close-on-exec and, when `nonBlocking`, O_NONBLOCK.
  /// The corresponding C function is `pipe2`.
  public static func pipe(nonBlocking: Bool = true) throws(Errno) -> Pipe {
    var fds: (Int32, Int32) = (-1, -1)
    let flags = O_CLOEXEC | (nonBlocking ? O_NONBLOCK : 0)
    _ = try withUnsafeMutableBytes(of: &fds) { (raw) throws(Errno) -> Int32 in
      // SAFETY: `raw` covers the two Int32s of `fds` for the duration of the call.
      let ints = raw.baseAddress!.assumingMemoryBound(to: Int32.self)
      return try systemCall("FileDescriptor.pipe") { cl_pipe2(ints, flags) }
    }
    return Pipe(read: FileDescriptor(adopting: fds.0), write: FileDescriptor(adopting: fds.1))
  }

  /// Opens the NUL-terminated `cString` (close-on-exec is always added). Labelled so that a
  /// string literal picks the `StaticString` overload instead of an allocating C-string bridge.
  /// The corresponding C function is `open`.
  public static func open(
    cString path: UnsafePointer<CChar>, _ flags: OpenFlags = .readOnly, permissions: UInt32 = 0o644
  ) throws(Errno) -> FileDescriptor {
    let fd = try systemCall("FileDescriptor.open") {
      cl_open(path, flags.rawValue | O_CLOEXEC, permissions)
    }
    return FileDescriptor(adopting: fd)
  }

  /// Opens `path`, a string literal (NUL-terminated in the binary, so nothing is allocated).
  public static func open(
    _ path: StaticString, _ flags: OpenFlags = .readOnly, permissions: UInt32 = 0o644
  ) throws(Errno) -> FileDescriptor {
    if !path.hasPointerRepresentation { bug("FileDescriptor.open: path is not a literal") }
    // SAFETY: a StaticString with a pointer representation is a NUL-terminated UTF-8 literal
    // that lives as long as the program; CChar and UInt8 have the same layout.
    let cPath = UnsafeRawPointer(path.utf8Start).assumingMemoryBound(to: CChar.self)
    return try open(cString: cPath, flags, permissions: permissions)
  }

  /// Opens `path`, bytes the caller owns that must contain a NUL terminator.
  public static func open(
    bytes path: UnsafeBufferPointer<CChar>, _ flags: OpenFlags = .readOnly, permissions: UInt32 = 0o644
  ) throws(Errno) -> FileDescriptor {
    // A manual scan: `Sequence.contains` is not allocation-free in Embedded builds.
    var index = 0
    while index < path.count && path[index] != 0 { index += 1 }
    if index == path.count { bug("FileDescriptor.open: path has no NUL terminator") }
    return try open(cString: path.baseAddress!, flags, permissions: permissions)
  }
}

/// The type of a file, from the `S_IFMT` bits of its mode.
package enum FileType: Equatable, Sendable {
  case regular, directory, characterDevice, blockDevice, fifo, socket, symbolicLink, unknown

  /// The type `mode` (an `st_mode`) says.
  package init(mode: UInt32) {
    switch mode & 0o170000 {
    case 0o100000: self = .regular
    case 0o040000: self = .directory
    case 0o020000: self = .characterDevice
    case 0o060000: self = .blockDevice
    case 0o010000: self = .fifo
    case 0o140000: self = .socket
    case 0o120000: self = .symbolicLink
    default: self = .unknown
    }
  }

  /// The type in words, for messages.
  package var name: StaticString {
    switch self {
    case .regular: "a regular file"
    case .directory: "a directory"
    case .characterDevice: "a character device"
    case .blockDevice: "a block device"
    case .fifo: "a FIFO"
    case .socket: "a socket"
    case .symbolicLink: "a symbolic link"
    case .unknown: "an unknown kind of file"
    }
  }
}

/// The two ends of a pipe, each owned.
///
/// Frozen so that callers in other modules can take the ends apart (`let r = pipe.read`).
@frozen
public struct Pipe: ~Copyable {
  /// The end to read from.
  public var read: FileDescriptor
  /// The end to write to.
  public var write: FileDescriptor
}

/// Flags for `FileDescriptor.open` (O_CLOEXEC is always added), combined with `|`.
///
/// Not an `OptionSet`: its array-literal initialiser is not allocation-free in Embedded builds.
public struct OpenFlags: Equatable, Sendable {
  /// The flags as C `O_*` bits.
  public var rawValue: Int32
  /// Flags from C `O_*` bits.
  public init(rawValue: Int32) { self.rawValue = rawValue }

  /// O_RDONLY (zero: the default access mode).
  public static let readOnly = OpenFlags(rawValue: O_RDONLY)
  /// O_WRONLY.
  public static let writeOnly = OpenFlags(rawValue: O_WRONLY)
  /// O_RDWR.
  public static let readWrite = OpenFlags(rawValue: O_RDWR)
  /// O_NONBLOCK.
  public static let nonBlocking = OpenFlags(rawValue: O_NONBLOCK)
  /// O_CREAT.
  public static let create = OpenFlags(rawValue: O_CREAT)
  /// O_TRUNC.
  public static let truncate = OpenFlags(rawValue: O_TRUNC)
  /// O_APPEND.
  public static let append = OpenFlags(rawValue: O_APPEND)

  /// Both sets of flags.
  public static func | (lhs: OpenFlags, rhs: OpenFlags) -> OpenFlags {
    OpenFlags(rawValue: lhs.rawValue | rhs.rawValue)
  }
}
