// SystemdNotify against a real AF_UNIX datagram socket that each test binds and reads in place
// of systemd's: exactly which datagrams arrive, for a path and for an abstract name; that
// sending allocates nothing; how a bad $NOTIFY_SOCKET, a missing socket and a full queue are
// reported; and how $WATCHDOG_USEC / $WATCHDOG_PID are read.

import AllocCounter
import CLinux
import LoopCore
import LoopLinux
import Testing

/// A datagram socket bound to a fresh name, standing in for systemd's notification socket.
final class NotifyReceiver {
  /// The bound socket.
  let fd: Int32
  /// The name in $NOTIFY_SOCKET's form: a path, or "@name" for the abstract namespace.
  let notifySocket: String
  /// The file to remove afterwards (path sockets only).
  private let path: String?

  init(abstract: Bool) throws {
    let name = "sensorloop-notify-\(getpid())-\(UInt32.random(in: 0 ... .max))"
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    try #require(fd >= 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    // An abstract name starts with a NUL byte and is exactly as long as the length says.
    let bytes: [UInt8] = abstract ? [0] + Array(name.utf8) : Array("/tmp/\(name)".utf8) + [0]
    withUnsafeMutableBytes(of: &address.sun_path) { path in
      for (index, byte) in bytes.enumerated() { path[index] = byte }
    }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    try #require(bound == 0, "bind: errno \(cl_errno())")
    self.fd = fd
    notifySocket = abstract ? "@\(name)" : "/tmp/\(name)"
    path = abstract ? nil : "/tmp/\(name)"
  }

  deinit {
    close(fd)
    if let path { unlink(path) }
  }

  /// The next datagram already queued, or nil when none is (never waits: a datagram to an
  /// AF_UNIX socket is queued before the sender's call returns).
  func next() -> String? {
    var buffer = [UInt8](repeating: 0, count: 512)
    let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
    guard count >= 0 else { return nil }
    return String(decoding: buffer[0..<count], as: UTF8.self)
  }

  /// Every datagram queued now, in arrival order.
  func drain() -> [String] {
    var all: [String] = []
    while let message = next() { all.append(message) }
    return all
  }
}

/// A notifier for `notifySocket` ($NOTIFY_SOCKET's form).
func makeNotifier(_ notifySocket: String) throws(Errno) -> SystemdNotify {
  let text = cString(notifySocket)
  defer { text.deallocate() }
  return try SystemdNotify(notifySocket: text)
}

/// A NUL-terminated copy of `text`; the caller deallocates it.
func cString(_ text: String) -> UnsafeMutablePointer<CChar> {
  let bytes = Array(text.utf8CString)
  let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
  copy.initialize(from: bytes, count: bytes.count)
  return copy
}

@Suite struct SystemdNotifyTests {
  @Test(arguments: [false, true])
  func eachMessageArrivesAsOneExactDatagram(abstract: Bool) throws {
    let receiver = try NotifyReceiver(abstract: abstract)
    let notifier = try makeNotifier(receiver.notifySocket)
    try notifier.ready()
    try notifier.watchdog()
    try notifier.status("running")
    let counted = Array("3 events".utf8)
    try counted.withUnsafeBytes { try notifier.status($0) }
    try notifier.send("STATUS=stopping\nERRNO=0")
    try notifier.stopping()
    #expect(
      receiver.drain() == [
        "READY=1", "WATCHDOG=1", "STATUS=running", "STATUS=3 events", "STATUS=stopping\nERRNO=0",
        "STOPPING=1",
      ])
  }

  @Test func reloadingCarriesTheMonotonicTimeInMicroseconds() throws {
    let receiver = try NotifyReceiver(abstract: false)
    let notifier = try makeNotifier(receiver.notifySocket)
    try notifier.reloading(at: Instant(nanoseconds: 12_345_678_999))
    try notifier.reloading(at: .zero)
    try notifier.ready()
    #expect(
      receiver.drain() == [
        "RELOADING=1\nMONOTONIC_USEC=12345678", "RELOADING=1\nMONOTONIC_USEC=0", "READY=1",
      ])
  }

  @Test func sendingAllocatesNothing() throws {
    let receiver = try NotifyReceiver(abstract: false)
    let notifier = try makeNotifier(receiver.notifySocket)
    try notifier.ready()  // warm-up: anything lazily set up on first use happens here
    #expect(receiver.next() == "READY=1")
    let before = sl_alloc_count_thread()
    for _ in 0..<100 {
      try notifier.watchdog()
      try notifier.status("steady")
      // Read each pair back so the receiver's queue never fills.
      var byte: UInt8 = 0
      _ = recv(receiver.fd, &byte, 1, Int32(MSG_DONTWAIT))
      _ = recv(receiver.fd, &byte, 1, Int32(MSG_DONTWAIT))
    }
    let after = sl_alloc_count_thread()
    #expect(sl_alloc_counter_active() == 1)
    #expect(after - before == 0)
    #expect(receiver.next() == nil)
  }

  @Test func aFullQueueIsWouldBlockNotAStall() throws {
    let receiver = try NotifyReceiver(abstract: true)
    let notifier = try makeNotifier(receiver.notifySocket)
    // Nobody reads: the receiver's queue fills and the nonblocking send reports it.
    var failure: Errno?
    for _ in 0..<100_000 {
      do { try notifier.watchdog() } catch {
        failure = error
        break
      }
    }
    #expect(failure == .wouldBlock)
    #expect(receiver.next() == "WATCHDOG=1")
  }

  @Test func aMissingSocketIsNoEntry() throws {
    let notifier = try makeNotifier("/nonexistent/sensorloop/notify")
    #expect(throws: Errno.noEntry) { try notifier.ready() }
  }

  @Test func malformedAddressesAreRejected() {
    // Neither an absolute path nor an abstract name (systemd's vsock: form is not supported).
    #expect(throws: Errno.invalidArgument) { _ = try makeNotifier("run/notify") }
    #expect(throws: Errno.invalidArgument) { _ = try makeNotifier("vsock:2:1234") }
    #expect(throws: Errno.invalidArgument) { _ = try makeNotifier("@") }
    // sun_path holds 108 bytes: a path needs one for its NUL, an abstract name does not.
    let path107 = "/" + String(repeating: "p", count: 106)
    let path108 = "/" + String(repeating: "p", count: 107)
    let name108 = "@" + String(repeating: "n", count: 107)
    let name109 = "@" + String(repeating: "n", count: 108)
    #expect((try? makeNotifier(path107)) != nil)
    #expect(throws: Errno(rawValue: ENAMETOOLONG)) { _ = try makeNotifier(path108) }
    #expect((try? makeNotifier(name108)) != nil)
    #expect(throws: Errno(rawValue: ENAMETOOLONG)) { _ = try makeNotifier(name109) }
  }

  @Test func watchdogPeriodFromTheEnvironmentValues() {
    func period(_ usec: String?, _ pid: String?, _ processID: Int32 = 42) -> Duration? {
      let u = usec.map(cString)
      let p = pid.map(cString)
      defer {
        u?.deallocate()
        p?.deallocate()
      }
      return SystemdNotify.watchdogPeriod(
        microseconds: u.map { UnsafePointer($0) }, pid: p.map { UnsafePointer($0) },
        processID: processID)
    }
    #expect(period("10000000", nil) == .seconds(10))
    #expect(period("10000000", "42") == .seconds(10))
    // The variables were meant for another process (inherited through a fork/exec).
    #expect(period("10000000", "7") == nil)
    #expect(period("10000000", "x") == nil)
    #expect(period(nil, nil) == nil)
    #expect(period("", nil) == nil)
    #expect(period("0", nil) == nil)
    #expect(period("10s", nil) == nil)
    #expect(period("-5", nil) == nil)
    // Larger than an Int64 of nanoseconds can hold.
    #expect(period("9223372036854776", nil) == nil)
    #expect(period("9223372036854775", nil) == .microseconds(9_223_372_036_854_775))
  }
}
