// What the end-to-end tests share: the release build they run, the allocation counter built
// for preloading into it, and a datagram socket standing in for systemd's $NOTIFY_SOCKET.

import Foundation
import Testing

/// The release build the board runs (Tests/run builds it in the same scratch folder before the
/// tests: a build from inside `swift test` would wait for the lock `swift test` holds).
func releaseSensorloop() throws -> URL {
  let scratch = buildFolder.resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
  let release = scratch.appendingPathComponent("release/sensorloop")
  try #require(
    FileManager.default.fileExists(atPath: release.path),
    "no release build at \(release.path): run Tests/run, or `swift build -c release --product sensorloop` first"
  )
  return release
}

/// Builds the repository's malloc counter (Sources/AllocCounter) as a shared library at
/// `library`, for LD_PRELOAD into the real program.
func buildAllocCounter(at library: URL) throws {
  let cc = Process()
  cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  cc.arguments = [
    "cc", "-shared", "-fPIC", "-O2", "-ISources/AllocCounter/include", "-o", library.path,
    "Sources/AllocCounter/AllocCounter.c",
  ]
  cc.currentDirectoryURL = packageRoot
  try cc.run()
  cc.waitUntilExit()
  try #require(cc.terminationStatus == 0)
}

/// A datagram socket the test owns, given to sensorloop as `$NOTIFY_SOCKET`.
final class NotifySocket {
  let path: String
  let fd: Int32
  private var received: [String] = []
  private var taken = 0

  init() throws {
    path =
      FileManager.default.temporaryDirectory.appendingPathComponent(
        "sl-notify-\(getpid())-\(UUID().uuidString.prefix(8))"
      )
      .path
    unlink(path)
    fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    try #require(fd >= 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
    }
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    try #require(bound == 0)
  }

  deinit {
    close(fd)
    unlink(path)
  }

  /// Takes what waits in the socket (its queue is short: 10 datagrams by default).
  func drain() {
    var buffer = [UInt8](repeating: 0, count: 512)
    while true {
      let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
      if n <= 0 { break }
      received.append(String(decoding: buffer[0..<n], as: UTF8.self))
    }
  }

  /// Drains the socket every 20 ms while `process` runs.
  func drain(while process: Process) {
    while process.isRunning {
      drain()
      usleep(20_000)
    }
  }

  /// Every datagram received so far.
  func messages() -> [String] {
    drain()
    return received
  }

  /// The datagrams received since the last call, WATCHDOG=1 pings left out.
  func newMessages() -> [String] {
    drain()
    defer { taken = received.count }
    return received[taken...].filter { $0 != "WATCHDOG=1" }
  }
}

/// Under `Tests/Fuzz/sanitizers` (which sets SENSORLOOP_SANITIZER) on a loaded 2-core host the
/// program can stall for a second or more: checks of what happens within one period relax there.
let underSanitizer = ProcessInfo.processInfo.environment["SENSORLOOP_SANITIZER"] != nil
