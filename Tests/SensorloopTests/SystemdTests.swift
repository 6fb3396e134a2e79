// sensorloop as a systemd `Type=notify` service with `WatchdogSec=`: the test owns the
// notification socket and checks the datagrams the real program sends.

import Foundation
import Testing

@Suite struct SystemdServiceTests {
  @Test func readyThenWatchdogPingsThenStopping() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("sl-notify-\(getpid())").path
    unlink(path)
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    try #require(fd >= 0)
    defer {
      close(fd)
      unlink(path)
    }
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
    // WatchdogSec=0.4 s: sensorloop pings every 0.2 s.
    let run = try sensorloop(
      ["--config", "Boards/sim.json", "--duration", "1.5"],
      environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"])
    #expect(run.status == 0)
    var messages: [String] = []
    var buffer = [UInt8](repeating: 0, count: 256)
    while true {
      let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
      if n <= 0 { break }
      messages.append(String(decoding: buffer[0..<n], as: UTF8.self))
    }
    #expect(messages.first == "READY=1")
    #expect(messages.last == "STOPPING=1")
    let pings = messages.filter { $0 == "WATCHDOG=1" }.count
    #expect((6...9).contains(pings), "\(messages)")
  }
}
