// sensorloop as a systemd `Type=notify` service with `WatchdogSec=`: the test owns the
// notification socket and checks the datagrams the real program sends.

import Foundation
import Testing

@Suite struct SystemdServiceTests {
  @Test func readyThenWatchdogPingsThenStopping() throws {
    let notify = try NotifySocket()
    // WatchdogSec=0.4 s: sensorloop pings every 0.2 s.
    let run = try sensorloop(
      ["--config", "Boards/sim.json", "--duration", "1.5"],
      environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"])
    #expect(run.status == 0)
    let messages = notify.messages()
    #expect(messages.first == "READY=1")
    #expect(messages.last == "STOPPING=1")
    let pings = messages.filter { $0 == "WATCHDOG=1" }.count
    #expect((6...9).contains(pings), "\(messages)")
  }
}
