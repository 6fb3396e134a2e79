// Every file in Boards/ loads and validates, and wires what Boards/README.md says it does.

import Foundation
import LoopConfig
import Testing

@Suite struct BoardsTests {
  static let files = [
    "sim.json", "pi-zero-2w.json", "pi-3b.json", "pi-4b.json", "pi-5.json", "weather-station.json",
    "fan-controller.json",
  ]

  @Test(arguments: files) func boardFileLoads(name: String) throws {
    let path = repositoryRoot.appendingPathComponent("Boards").appendingPathComponent(name).path
    let config: BoardConfig
    do throws(ConfigError) {
      config = try loadBoardConfig(path: Array(path.utf8))
    } catch {
      Issue.record(Comment(rawValue: String(decoding: error.rendered, as: UTF8.self)))
      return
    }
    #expect(config.tasks.count >= 7)
    let plan = CapacityPlan(config)
    for row in plan.rows { #expect(row.used <= row.limit) }
  }

  /// Finding 12 of issue 13: the shipped unit (`DynamicUser=yes`, `DevicePolicy=closed`) cannot
  /// open /dev/watchdog, so every shipped config's watchdog supervises without a device
  /// (systemd's `WatchdogSec=` resets a stalled service).
  @Test(arguments: files) func watchdogHasNoDevice(name: String) throws {
    let path = repositoryRoot.appendingPathComponent("Boards").appendingPathComponent(name).path
    let config = try loadBoardConfig(path: Array(path.utf8))
    let watchdogs = config.tasks.elements.compactMap { task -> WatchdogConfig? in
      if case .watchdog(let watchdog) = task.kind { return watchdog }
      return nil
    }
    #expect(watchdogs.count == 1)
    #expect(watchdogs.allSatisfy { $0.device == nil })
  }

  @Test func everyBoardFileIsTested() throws {
    let listed = try FileManager.default.contentsOfDirectory(
      atPath: repositoryRoot.appendingPathComponent("Boards").path
    ).filter { $0.hasSuffix(".json") }.sorted()
    #expect(listed == Self.files.sorted())
  }
}
