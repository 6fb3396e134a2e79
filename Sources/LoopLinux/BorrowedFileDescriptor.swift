// BorrowedFileDescriptor: an fd that code uses but does not own (stdout, stderr, a watchdog
// device or an output file the program holds open), with span-based reads and writes. Code
// above LoopLinux then writes to such an fd without adopting an owning `FileDescriptor` it
// must remember to release, and without touching a raw pointer.

import CLinux
import LoopCore

/// A file descriptor owned elsewhere: copying or dropping this value never closes the fd.
///
/// The owner must keep the fd open while it is used; an fd closed under it is a bug (EBADF
/// traps, as on an owned fd).
@frozen
public struct BorrowedFileDescriptor: Equatable, Sendable {
  /// The kernel's fd number.
  public let rawValue: Int32

  /// The fd `rawValue`, which stays its owner's to close.
  public init(_ rawValue: Int32) { self.rawValue = rawValue }

  /// Standard output (fd 1).
  public static var standardOutput: BorrowedFileDescriptor { BorrowedFileDescriptor(1) }
  /// Standard error (fd 2).
  public static var standardError: BorrowedFileDescriptor { BorrowedFileDescriptor(2) }

  /// Writes up to `bytes.count` bytes and returns how many were taken. Throws `.wouldBlock`
  /// when a nonblocking fd has no room. The corresponding C function is `write`.
  public func write(_ bytes: Span<UInt8>) throws(Errno) -> Int {
    try bytes.withUnsafeBytes { (raw) throws(Errno) -> Int in
      // SAFETY: `raw` covers the span's bytes for this closure; write(2) reads at most
      // `raw.count` of them and keeps no pointer.
      try systemCall("BorrowedFileDescriptor.write") { cl_write(rawValue, raw.baseAddress, raw.count) }
    }
  }

  /// Writes the bytes of the string literal `text`; returns how many were taken.
  public func write(_ text: StaticString) throws(Errno) -> Int {
    if !text.hasPointerRepresentation { bug("BorrowedFileDescriptor.write: not a UTF-8 literal") }
    // SAFETY: a literal with a pointer representation is `utf8CodeUnitCount` valid bytes that
    // live as long as the program.
    let start = UnsafeRawPointer(text.utf8Start)
    let count = text.utf8CodeUnitCount
    return try systemCall("BorrowedFileDescriptor.write") { cl_write(rawValue, start, count) }
  }

  /// Reads up to `buffer.count` bytes into the start of `buffer`; 0 means end of file. Throws
  /// `.wouldBlock` when a nonblocking fd has nothing now. The corresponding C function is `read`.
  public func read(into buffer: inout MutableSpan<UInt8>) throws(Errno) -> Int {
    try buffer.withUnsafeMutableBytes { (raw) throws(Errno) -> Int in
      // SAFETY: `raw` covers the span's bytes for this closure; read(2) writes at most
      // `raw.count` of them.
      try systemCall("BorrowedFileDescriptor.read") { cl_read(rawValue, raw.baseAddress, raw.count) }
    }
  }

  /// Reads up to `buffer.count` bytes at `offset` without moving the file position (a sysfs
  /// attribute is re-read from offset 0). The corresponding C function is `pread`.
  public func read(into buffer: inout MutableSpan<UInt8>, atOffset offset: Int) throws(Errno) -> Int {
    try buffer.withUnsafeMutableBytes { (raw) throws(Errno) -> Int in
      // SAFETY: as in `read(into:)`.
      try systemCall("BorrowedFileDescriptor.read(atOffset:)") {
        cl_pread(rawValue, raw.baseAddress, raw.count, off_t(offset))
      }
    }
  }

  /// Sets or clears O_NONBLOCK (a no-op when it already is as asked). The corresponding C
  /// function is `fcntl` with `F_GETFL` and `F_SETFL`.
  public func setNonBlocking(_ nonBlocking: Bool = true) throws(Errno) {
    let flags = try systemCall("BorrowedFileDescriptor.setNonBlocking") { cl_fcntl(rawValue, F_GETFL, 0) }
    let wanted = nonBlocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
    if wanted == flags { return }
    _ = try systemCall("BorrowedFileDescriptor.setNonBlocking") { cl_fcntl(rawValue, F_SETFL, wanted) }
  }

  /// Whether O_NONBLOCK is set.
  public func isNonBlocking() throws(Errno) -> Bool {
    let flags = try systemCall("BorrowedFileDescriptor.isNonBlocking") { cl_fcntl(rawValue, F_GETFL, 0) }
    return flags & O_NONBLOCK != 0
  }
}

extension FileDescriptor {
  /// The fd, lent without its ownership (for span-based reads and writes).
  public var borrowed: BorrowedFileDescriptor { BorrowedFileDescriptor(rawValue) }

  /// Opens `path`, fixed-capacity text (always NUL-terminated), close-on-exec.
  public static func open<let n: Int>(
    _ path: borrowing FixedText<n>, _ flags: OpenFlags = .readOnly, permissions: UInt32 = 0o644
  ) throws(Errno) -> FileDescriptor {
    try path.withCString { (cPath) throws(Errno) in try open(cString: cPath, flags, permissions: permissions)
    }
  }
}

/// Waits, outside the loop, until an fd can take more bytes: the firmware's flush at shutdown,
/// when the platform's epoll set may be gone (and a virtual platform has none). Holds an epoll
/// fd of its own, made on first use and closed on drop.
public struct WritableWaiter: ~Copyable {
  private var epoll: Int32 = -1
  private var watched: Int32 = -1

  /// A waiter with no epoll fd yet.
  public init() {}

  deinit { if epoll >= 0 { _ = cl_close(epoll) } }

  /// Waits until `fd` can take more bytes or `deadline` passes; false on timeout or when `fd`
  /// cannot be watched (a regular file: EPERM; it never says "would block" either). One waiter
  /// watches one fd: the first one it is asked about. The corresponding C functions are
  /// `epoll_create1`, `epoll_ctl` and `epoll_wait` (EINTR retried with the time left).
  public mutating func wait(for fd: BorrowedFileDescriptor, until deadline: Instant) -> Bool {
    if epoll < 0 {
      guard
        case .success(let created) = systemCallResult(
          "WritableWaiter.wait", via: LinuxCalls.self,
          {
            cl_epoll_create1(Int32(EPOLL_CLOEXEC))
          })
      else { return false }
      epoll = created
      var event = epoll_event()
      event.events = EPOLLOUT.rawValue
      let added = systemCallResult("WritableWaiter.wait", via: LinuxCalls.self) {
        cl_epoll_ctl(created, EPOLL_CTL_ADD, fd.rawValue, &event)
      }
      guard case .success = added else {
        _ = cl_close(created)
        epoll = -1
        return false
      }
      watched = fd.rawValue
    }
    if watched != fd.rawValue { bug("WritableWaiter.wait: a second fd") }
    while true {
      let left = deadline - monotonicNow()
      if left <= .zero { return false }
      var event = epoll_event()
      let ms = Int32(min((left.nanoseconds + 999_999) / 1_000_000, 60_000))
      let outcome = systemCallResult("WritableWaiter.wait", via: LinuxCalls.self, retryOnInterrupt: false) {
        cl_epoll_wait(epoll, &event, 1, ms)
      }
      switch outcome {
      case .success(let n) where n > 0: return true
      case .success: continue
      case .failure(.interrupted): continue
      case .failure: return false
      }
    }
  }
}
