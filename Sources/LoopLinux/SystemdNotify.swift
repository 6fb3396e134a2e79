// SystemdNotify: the sd_notify protocol without libsystemd. A service started with
// `Type=notify` finds systemd's socket in $NOTIFY_SOCKET and tells it about its state with
// one AF_UNIX datagram per message ("READY=1", "WATCHDOG=1", "RELOADING=1", "STOPPING=1",
// "STATUS=text").
// The address is read once at startup; each message is then one sendmsg from a fixed
// sockaddr_un and the caller's bytes, so notifying never allocates and never blocks the loop.

import CLinux
import LoopCore

/// A sender of service notifications to systemd (the datagram socket named by $NOTIFY_SOCKET).
///
/// The socket is nonblocking: when systemd's queue is full a send throws `Errno.wouldBlock`
/// and the message is lost, which for `WATCHDOG=1` only means the next ping must arrive in time.
public struct SystemdNotify: ~Copyable {
  /// The unbound datagram socket the messages leave from.
  private let socket: FileDescriptor
  /// systemd's socket.
  private let address: sockaddr_un
  /// The used bytes of `address`: an abstract name is not NUL-terminated, so the length is
  /// part of the name.
  private let addressLength: socklen_t

  /// The notifier for $NOTIFY_SOCKET, or nil when it is unset or empty (not run by systemd as
  /// a `Type=notify` service). Throws `.invalidArgument` for a value that is neither an
  /// absolute path nor an `@` abstract name, ENAMETOOLONG for one too long for sockaddr_un.
  public static func fromEnvironment() throws(Errno) -> SystemdNotify? {
    guard let value = cl_getenv(cString("NOTIFY_SOCKET")), value.pointee != 0 else { return nil }
    return try SystemdNotify(notifySocket: value)
  }

  /// A notifier for the socket `notifySocket` names, in $NOTIFY_SOCKET's form: an absolute
  /// path, or `@name` for `name` in the abstract namespace.
  public init(notifySocket: UnsafePointer<CChar>) throws(Errno) {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    var length = 0
    while notifySocket[length] != 0 { length += 1 }
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    let first = notifySocket[0]
    // A path is copied with its terminating NUL; an abstract name keeps its length exactly,
    // with the leading "@" written as the NUL byte that marks the abstract namespace.
    let isAbstract = first == CChar(UInt8(ascii: "@"))
    guard isAbstract || first == CChar(UInt8(ascii: "/")) else { throw .invalidArgument }
    // "@" alone would name nothing.
    guard !isAbstract || length > 1 else { throw .invalidArgument }
    let used = isAbstract ? length : length + 1
    guard used <= capacity else { throw Errno(rawValue: ENAMETOOLONG) }
    withUnsafeMutableBytes(of: &address.sun_path) { path in
      // SAFETY: `used` ≤ `path.count` (checked above); `notifySocket` has `length` bytes and a NUL.
      for index in 0..<used { path[index] = UInt8(truncatingIfNeeded: notifySocket[index]) }
      if isAbstract { path[0] = 0 }
    }
    let type = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
    let fd = try systemCall("SystemdNotify.init") { cl_socket(AF_UNIX, type, 0) }
    self.socket = FileDescriptor(adopting: fd)
    self.address = address
    // sun_path follows sun_family directly in Linux's sockaddr_un.
    self.addressLength = socklen_t(MemoryLayout<sa_family_t>.size + used)
  }

  /// Tells systemd that startup is over: `systemctl start` returns and dependents start.
  public func ready() throws(Errno) { try send("READY=1") }

  /// Tells systemd the service is alive; with `WatchdogSec=` it must arrive in every period.
  public func watchdog() throws(Errno) { try send("WATCHDOG=1") }

  /// Tells systemd the service is reloading its configuration (SIGHUP), as of `now` on
  /// CLOCK_MONOTONIC; `ready()` ends the reload. The message is `RELOADING=1` and
  /// `MONOTONIC_USEC=`, which systemd needs to tell this reload from an earlier one.
  public func reloading(at now: Instant) throws(Errno) {
    let head: StaticString = "RELOADING=1\nMONOTONIC_USEC="
    let usec = DecimalText(UInt64(max(0, now.nanoseconds / 1_000)))
    try usec.withSpan { (digits) throws(Errno) in
      try digits.withUnsafeBytes { (raw) throws(Errno) in
        // SAFETY: `raw` covers the digits for this closure; the literal lives for the program.
        try send(UnsafeRawBufferPointer(start: head.utf8Start, count: head.utf8CodeUnitCount), raw)
      }
    }
  }

  /// Tells systemd the service is shutting down on purpose.
  public func stopping() throws(Errno) { try send("STOPPING=1") }

  /// Sets the one-line status `systemctl status` shows.
  public func status(_ text: StaticString) throws(Errno) {
    try status(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
  }

  /// Sets the one-line status `systemctl status` shows, from UTF-8 bytes.
  public func status(_ text: UnsafeRawBufferPointer) throws(Errno) {
    let prefix: StaticString = "STATUS="
    try send(UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount), text)
  }

  /// Sends `message` (newline-separated `KEY=value` assignments) as one datagram.
  public func send(_ message: StaticString) throws(Errno) {
    try send(UnsafeRawBufferPointer(start: message.utf8Start, count: message.utf8CodeUnitCount))
  }

  /// Sends the bytes `head` followed by `tail` as one datagram.
  /// The corresponding C function is `sendmsg`.
  public func send(
    _ head: UnsafeRawBufferPointer, _ tail: UnsafeRawBufferPointer = .init(start: nil, count: 0)
  )
    throws(Errno)
  {
    var parts = (
      iovec(iov_base: UnsafeMutableRawPointer(mutating: head.baseAddress), iov_len: head.count),
      iovec(iov_base: UnsafeMutableRawPointer(mutating: tail.baseAddress), iov_len: tail.count)
    )
    let fd = socket.rawValue
    let length = addressLength
    let total = head.count + tail.count
    let sent = try withUnsafePointer(to: address) { (name) throws(Errno) -> Int in
      try withUnsafeMutableBytes(of: &parts) { (vectors) throws(Errno) -> Int in
        // SAFETY: `name` and `vectors` outlive the call; sendmsg only reads through the
        // message header, so the `mutating` casts never lead to a write.
        var message = msghdr()
        message.msg_name = UnsafeMutableRawPointer(mutating: name)
        message.msg_namelen = length
        message.msg_iov = vectors.baseAddress!.assumingMemoryBound(to: iovec.self)
        message.msg_iovlen = 2
        return try systemCall("SystemdNotify.send") {
          cl_sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
        }
      }
    }
    // A datagram leaves whole or not at all.
    precondition(sent == total, "SystemdNotify.send")
  }

  /// The period systemd expects `watchdog()` within ($WATCHDOG_USEC), or nil when no watchdog
  /// is set for this process ($WATCHDOG_PID, when present, names another process).
  /// Ping at half of it, as sd_watchdog_enabled(3) advises.
  public static func watchdogPeriod() -> Duration? {
    watchdogPeriod(
      microseconds: cl_getenv(cString("WATCHDOG_USEC")), pid: cl_getenv(cString("WATCHDOG_PID")),
      processID: cl_getpid())
  }

  /// `watchdogPeriod()` from the two variables' values and this process's id.
  public static func watchdogPeriod(
    microseconds: UnsafePointer<CChar>?, pid: UnsafePointer<CChar>?, processID: Int32
  ) -> Duration? {
    guard let usec = decimal(microseconds), usec > 0 else { return nil }
    if let pid {
      guard let owner = decimal(pid), owner == Int64(processID) else { return nil }
    }
    return .microseconds(usec)
  }

  /// The value of an all-digits C string that fits in microseconds of an Int64 of
  /// nanoseconds, else nil.
  private static func decimal(_ text: UnsafePointer<CChar>?) -> Int64? {
    guard let text, text.pointee != 0 else { return nil }
    var value: Int64 = 0
    var index = 0
    while text[index] != 0 {
      let digit = Int64(text[index]) - Int64(UInt8(ascii: "0"))
      guard digit >= 0 && digit <= 9 else { return nil }
      guard value <= (Int64.max / 1_000 - digit) / 10 else { return nil }
      value = value * 10 + digit
      index += 1
    }
    return value
  }
}

/// A StaticString as a C string: a string literal passed as `const char *` would be copied to
/// the heap in Embedded Swift.
private func cString(_ text: StaticString) -> UnsafePointer<CChar> {
  // SAFETY: a StaticString from a literal is NUL-terminated static storage.
  UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
}
